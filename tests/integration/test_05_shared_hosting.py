"""test_05_shared_hosting.py: docs/shared-hosting.md, run as written.

The host: an Apache of the suite's own (a free port, under the stack's
temp dir; started as root as a host's is, its children www-data) with
mod_fcgid, mod_rewrite and mod_mime loaded, and one vhost whose document
root is the site user's public_html with `AllowOverride FileInfo
AuthConfig Options=ExecCGI` and `Options SymLinksIfOwnerMatch` (without
it or FollowSymLinks, mod_rewrite refuses a RewriteRule in .htaccess:
the page's "What the host must allow" says so), and nothing of creditd's
(no FcgidInitialEnv, no Alias, no FcgidPassHeader, mod_fcgid's defaults).
No suEXEC: creditd runs as www-data.

The site: the user `nobody` (unprivileged, and not Apache's user, so
creditd must read a file someone else owns), with a home under the temp
dir standing for the page's /home/alice, and a database and database
user of its own on the stack's MariaDB. As that user, in cron's bare
environment, the page's blocks as printed: the programs put in place,
the config opened to Apache's user the page's way for a host without
suEXEC or ACLs, migrate, the prices and the keys, the wrapper and the
.htaccess. Through the site: a top-up (the Stripe stand-in, its webhook
signed and posted through the rewrite) and an authorize and settle, and
a body over mod_fcgid's FcgidMaxRequestLen refused by Apache.

Then the background work with no creditd alive: a grant and a hold that
come due after Apache has stopped, and the page's crontab line run as
cron runs it: the hold expired, the grant written off, and the
balance.low event that made pushed to [notify] url, signed.
"""
import datetime
import http.client
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import time

import stack
from lib import ENV, api, check, eq, free_port, sql, wait_until
from test_30_stripe import RATE, checkout_event, sign
from test_56_push import SECRET as NOTIFY_SECRET, Receiver

MODS = "/usr/lib/apache2/modules"
DOC = os.path.join(stack.ROOT, "docs", "shared-hosting.md")
PAGE_HOME = "/home/alice"      # the page's home directory, replaced by the site's
SITE_USER = "nobody"
TTL_SECONDS = 15               # the hold and grant that come due: after Apache has stopped


# ---- the page ---------------------------------------------------------------

def page():
    with open(DOC) as f:
        return f.read()


def fenced(lang=None):
    """The page's fenced blocks [(language, text)], list items' unindented."""
    out = []
    for m in re.finditer(r"^( *)```(\w*)\n(.*?)^\1```", page(), re.S | re.M):
        indent = len(m.group(1))
        text = "".join(line[indent:] for line in m.group(3).splitlines(True))
        if lang is None or m.group(2) == lang:
            out.append((m.group(2), text))
    return out


def block(lang, containing):
    found = [t for _, t in fenced(lang) if containing in t]
    eq(len(found), 1, "one %s block of the page with %r" % (lang or "plain", containing))
    return found[0]


def file_block(name):
    """The block right after the line naming the file `name`:."""
    text = page()
    at = text.index("`%s%s`:\n" % (PAGE_HOME, name))
    m = re.compile(r"```\w*\n(.*?)```", re.S).search(text, at)
    return m.group(1)


def crontab_line():
    lines = [line for line in block("", " sweep").splitlines() if line.strip()]
    eq(len(lines), 1, "one crontab line")
    fields = lines[0].split(None, 5)
    eq(fields[:5], ["*"] * 5, "every minute")
    return fields[5]


# ---- the site ---------------------------------------------------------------

class Site:
    def __init__(self):
        self.dir = stack.path("shared-hosting")
        self.home = os.path.join(self.dir, "home", "alice")
        self.upload = os.path.join(self.dir, "upload")
        self.db = "site_" + secrets.token_hex(4)
        self.db_password = secrets.token_hex(12)
        self.receiver = Receiver()
        self.port = None
        self.apache = None
        self.keys = {}

    def local(self, text):
        return text.replace(PAGE_HOME, self.home)

    def as_user(self, script, cwd=None, check_rc=True, errexit=True):
        """script in /bin/sh as the site's user, from its home, with what
        cron gives a job: HOME, LOGNAME, SHELL and PATH, and nothing else
        (and `sh -c`, as cron runs a line, when not errexit)."""
        env = ["HOME=" + self.home, "LOGNAME=" + SITE_USER, "SHELL=/bin/sh", "PATH=/usr/bin:/bin"]
        shell = ["/bin/sh", "-e", "-c"] if errexit else ["/bin/sh", "-c"]
        p = subprocess.run(["runuser", "-u", SITE_USER, "--", "env", "-i"] + env + shell + [script],
                           cwd=cwd or self.home, capture_output=True, text=True, timeout=120)
        if check_rc:
            check(p.returncode == 0, "as %s: %s\nexit %d: %s%s" % (SITE_USER, script, p.returncode, p.stdout,
                                                                  p.stderr))
        return p

    def as_user_started(self, script):
        """script as as_user runs it (no errexit), started and left running."""
        env = ["HOME=" + self.home, "LOGNAME=" + SITE_USER, "SHELL=/bin/sh", "PATH=/usr/bin:/bin"]
        return subprocess.Popen(["runuser", "-u", SITE_USER, "--", "env", "-i"] + env + ["/bin/sh", "-c", script],
                                cwd=self.home, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def write_as_user(self, path, text, mode):
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        u = pwd.getpwnam(SITE_USER)
        os.chown(path, u.pw_uid, u.pw_gid)

    def host_side(self):
        """What the host made: the home (711, as hosts do, so Apache's user
        passes through), the document root, the database and its user."""
        u = pwd.getpwnam(SITE_USER)
        for sub, mode in (("", 0o755), ("home", 0o755), ("run", 0o755), ("ipc", 0o755)):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
            os.chmod(os.path.join(self.dir, sub), mode)
        shutil.chown(os.path.join(self.dir, "ipc"), "www-data")
        for d, mode in ((self.home, 0o711), (os.path.join(self.home, "public_html"), 0o755)):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, mode)
            os.chown(d, u.pw_uid, u.pw_gid)
        sql("CREATE DATABASE %s; CREATE USER '%s'@'localhost' IDENTIFIED BY '%s'; "
            "GRANT ALL ON %s.* TO '%s'@'localhost'" % (self.db, self.db, self.db_password, self.db, self.db))

    def uploaded(self):
        """The build the user copied to the host: creditd, creditctl, sql/ and prices.csv."""
        os.makedirs(os.path.join(self.upload, "sql"), exist_ok=True)
        for name in ("creditd", "creditctl"):
            shutil.copy(os.path.join(stack.ROOT, name), self.upload)
        for name in os.listdir(os.path.join(stack.ROOT, "sql")):
            shutil.copy(os.path.join(stack.ROOT, "sql", name), os.path.join(self.upload, "sql"))
        shutil.copy(os.path.join(stack.ROOT, "etc", "prices.csv"), self.upload)
        subprocess.run(["chown", "-R", SITE_USER, self.upload], check=True)

    def config(self):
        """The site's config, in the page's shape: the page's [server] lines,
        the database, Stripe (the stand-in, the stack's keys), the event
        push to a receiver here, and the page's own lines for a file
        Apache's user must read."""
        stripe = {}
        section = None
        with open(ENV["CREDITD_CONFIG"]) as f:
            for line in f:
                line = line.strip()
                if line.startswith("["):
                    section = line
                elif section == "[stripe]" and "=" in line:
                    k, v = (x.strip() for x in line.split("=", 1))
                    stripe[k] = v
        server = block("ini", "base_path =")
        server = server[server.index("[server]\n"):server.index("[database]\n")]
        return server + "\n".join([
            "[database]", "socket = " + stack.path("mysql.sock"), "name = " + self.db, "user = " + self.db,
            "password = " + self.db_password,
            "[stripe]", "secret_key = " + stripe["secret_key"], "webhook_secrets = " + stripe["webhook_secrets"],
            "api_base = " + stripe["api_base"],
            "[notify]", "url = " + self.receiver.url, "secret = " + NOTIFY_SECRET, ""]) + \
            block("ini", "config_readable_by_others")

    def install(self):
        """Steps 1 to 5 of the page, as the site's user."""
        self.host_side()
        self.uploaded()
        self.as_user(block("sh", "mkdir -p ~/creditd/bin"), cwd=self.upload)
        conf = os.path.join(self.home, "creditd", "creditd.conf")
        self.write_as_user(conf, self.config(), 0o600)
        self.as_user(block("sh", "chmod 644 ~/creditd/creditd.conf"))
        eq(os.stat(conf).st_mode & 0o777, 0o644, "the config is readable by others, as the page says")
        for line in block("sh", "migrate --sql-dir").splitlines():
            p = self.as_user(line)
            if " key create " in line:
                self.keys[line.split("--name ")[1].strip()] = p.stdout.strip().splitlines()[-1]
        eq(sorted(self.keys), ["site-admin", "site-app"], "the page's two keys")
        credits = os.path.join(self.home, "public_html", "credits")
        wrapper = self.local(file_block("/public_html/credits/creditd.fcgi"))
        self.write_as_user(os.path.join(credits, "creditd.fcgi"), wrapper, 0o644)
        self.as_user(block("sh", "chmod 755 ~/public_html/credits/creditd.fcgi"))
        self.write_as_user(os.path.join(credits, ".htaccess"), file_block("/public_html/credits/.htaccess"), 0o644)

    def apache_conf(self):
        d, docroot = self.dir, os.path.join(self.home, "public_html")
        mods = ["mpm_event", "authz_core", "mime", "rewrite", "fcgid"]
        return "\n".join(
            ['ServerRoot "%s"' % d, "ServerName 127.0.0.1", "Listen 127.0.0.1:%d" % self.port,
             'PidFile "%s/apache.pid"' % d, 'DefaultRuntimeDir "%s/run"' % d, "Mutex file:%s/run default" % d,
             "Mutex pthread fcgid-proctbl", 'ErrorLog "%s/error.log"' % d, "LogLevel warn"] +
            ["LoadModule %s_module %s/mod_%s.so" % (m, MODS, m) for m in mods] +
            ["User www-data", "Group www-data",
             "TypesConfig /etc/mime.types", "FcgidIPCDir %s/ipc" % d,
             "FcgidProcessTableFile %s/run/fcgid_shm" % d, "FcgidConnectTimeout 20",
             "<VirtualHost 127.0.0.1:%d>" % self.port, "    ServerName site.example",
             '    DocumentRoot "%s"' % docroot, '    <Directory "%s">' % docroot,
             "        Options SymLinksIfOwnerMatch", "        AllowOverride FileInfo AuthConfig Options=ExecCGI",
             "        Require all granted", "    </Directory>", "</VirtualHost>", ""])

    def start_apache(self):
        self.port = free_port()
        conf = os.path.join(self.dir, "apache.conf")
        with open(conf, "w") as f:
            f.write(self.apache_conf())
        out = open(os.path.join(self.dir, "apache.out"), "w")
        # A host's environment, not the suite's (no test clock, no CREDITD_*).
        self.apache = subprocess.Popen(["apache2", "-f", conf, "-DFOREGROUND"], stdin=subprocess.DEVNULL, stdout=out,
                                       stderr=out, start_new_session=True,
                                       env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"})
        out.close()
        stack.record("apache2-shared", self.apache.pid)
        check(wait_until(lambda: stack.health(self.base) == 200, timeout=20),
              "healthz through the .htaccess and the wrapper: %s" % self.logs())

    @property
    def base(self):
        return "http://127.0.0.1:%d/credits" % self.port

    def stop_apache(self):
        """Stops Apache and the creditd processes mod_fcgid started (its
        process group); then no creditd of the site may be left."""
        if self.apache is None:
            return
        try:
            os.killpg(self.apache.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.apache.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.apache.pid, signal.SIGKILL)
            self.apache.wait()
        self.apache = None
        # Stopped by the test itself: its number is forgotten, or a later
        # process given the same number would read as this Apache, alive,
        # and stopping under another file's run.
        stack.forget("apache2-shared")
        check(wait_until(lambda: not self.creditd_pids(), timeout=20), "the site's creditd still runs after Apache")

    def creditd_pids(self):
        binary = os.path.join(self.home, "creditd", "bin", "creditd")
        pids = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if os.readlink("/proc/%s/exe" % pid) == binary:
                    pids.append(int(pid))
            except OSError:
                continue
        return pids

    def error_log(self):
        """Apache's error log for the site, whole (creditd's log is in it)."""
        with open(os.path.join(self.dir, "error.log"), errors="replace") as f:
            return f.read()

    def logs(self):
        out = []
        for name in ("error.log", "apache.out"):
            try:
                with open(os.path.join(self.dir, name), errors="replace") as f:
                    out.append("%s: %s" % (name, f.read()[-2000:]))
            except OSError as e:
                out.append("%s: %s" % (name, e))
        return "\n".join(out)

    def q(self, statement):
        return sql(statement.replace("{db}", self.db))


_site = None


def site():
    """The site, installed once for this file's tests."""
    global _site
    if _site is None:
        _site = Site()
        _site.install()
    return _site


# ---- the tests --------------------------------------------------------------

def rfc3339(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def through_the_site(s, method, path, body=None, key="site-app", headers=None):
    return api(method, path, body, auth=s.keys[key], base=s.base, headers=headers)


def top_up_and_guard_pair(s):
    """Account A: a top-up paid (Stripe's webhook through .htaccess's
    rewrite, Stripe-Signature passed on), then an authorize and settle."""
    acct = "site-a-" + secrets.token_hex(4)
    eq(through_the_site(s, "POST", "/v1/accounts", {"id": acct, "kind": "user"}, key="site-admin").status, 201,
       "account created with the admin key")
    r = through_the_site(s, "POST", "/v1/accounts/%s/topup" % acct, {"amount_cents": 1000},
                         headers={"Idempotency-Key": "site-topup-" + acct})
    eq(r.status, 200, "top-up started: %r" % r)
    payload = json.dumps(checkout_event(r.json["session_id"]))
    r = api("POST", "/v1/webhooks/stripe", auth=None, base=s.base, raw=payload.encode(),
            headers={"Stripe-Signature": sign(payload)})
    eq((r.status, (r.json or {}).get("outcome")), (200, "credited"), "the webhook through the site: %r" % r)
    r = through_the_site(s, "POST", "/v1/guard/authorize", {"account": acct, "model": "gpt-4o", "input_tokens": 1000,
                                                           "max_output_tokens": 200, "request_id": "site-1"})
    eq(r.status, 200, "authorize through the site: %r" % r)
    r = through_the_site(s, "POST", "/v1/guard/settle", {"hold_id": r.json["hold_id"], "input_tokens": 1000,
                                                        "output_tokens": 120})
    eq(r.status, 200, "settle through the site: %r" % r)
    check(r.json["charged_micros"] > 0, "the settle charged: %r" % r)
    eq(r.json["balance_micros"], 1000 * RATE - r.json["charged_micros"], "the top-up's credit less the charge")


def body_over_max_request_len(s):
    """The page's "What stays different": mod_fcgid refuses a body over its
    FcgidMaxRequestLen (131072 by default) itself, before creditd (whose
    own limit, 64 KiB by default, answers 413 below it). Not through api():
    Apache's answer is no answer of the API's to record."""
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
    try:
        c.request("POST", "/credits/v1/accounts", body=b"{" + b" " * 140000 + b"}",
                  headers={"Authorization": "Bearer " + s.keys["site-admin"], "Content-Type": "application/json"})
        status = c.getresponse().status
    finally:
        c.close()
    eq(status, 500, "140,000 bytes: Apache's 500, not creditd's 413")
    check(wait_until(lambda: "exceeds MaxRequestLen" in s.error_log(), timeout=5),
          "the error log says why: %s" % s.logs())
    eq(api("POST", "/v1/accounts", auth=s.keys["site-admin"], base=s.base, raw=b"{" + b" " * 70000 + b"}").status,
       413, "70,000 bytes reach creditd, which refuses them")


def due_after_apache(s):
    """Account B (low balance warned under 0.5): a grant of 1 and a hold,
    both due TTL_SECONDS from now. Returns (account, hold id, due at)."""
    acct = "site-b-" + secrets.token_hex(4)
    due = int(time.time()) + TTL_SECONDS
    eq(through_the_site(s, "POST", "/v1/accounts", {"id": acct, "kind": "user", "low_balance_micros": 500000},
                        key="site-admin").status, 201, "account B")
    r = through_the_site(s, "POST", "/v1/accounts/%s/grants" % acct, {"amount_micros": 1000000, "source": "promo",
                                                                     "expires_at": rfc3339(due)}, key="site-admin")
    eq(r.status, 201, "a grant that expires: %r" % r)
    r = through_the_site(s, "POST", "/v1/guard/authorize", {"account": acct, "model": "gpt-4o", "input_tokens": 100,
                                                           "max_output_tokens": 100, "request_id": "site-b-1",
                                                           "ttl_seconds": TTL_SECONDS})
    eq(r.status, 200, "a hold that expires: %r" % r)
    hold = s.q("SELECT h.id FROM {db}.holds h JOIN {db}.accounts a ON a.id = h.account_id WHERE a.ext_id = '%s' "
               "AND h.request_id = 'site-b-1'" % acct)
    return acct, hold[0][0], due


def status_from(url_base, path, source):
    """The status of GET url_base + path, sent from the address source."""
    import http.client
    import urllib.parse
    u = urllib.parse.urlsplit(url_base)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=20, source_address=(source, 0))
    c.request("GET", u.path.rstrip("/") + path)
    r = c.getresponse()
    r.read()
    c.close()
    return r.status


def test_the_recipe_serves_through_htaccess_and_the_wrapper():
    s = site()
    try:
        s.start_apache()
        eq(s.creditd_pids() != [] and all(pwd.getpwuid(os.stat("/proc/%d" % p).st_uid).pw_name == "www-data"
                                          for p in s.creditd_pids()), True, "creditd runs as Apache's user")
        eq(api("GET", "/v1/models", auth=None, base=s.base).status, 401, "no key, no answer")
        # /metrics: the .htaccess answers it to this host only (127.0.0.2
        # reaches the same Apache from another address).
        eq(status_from(s.base, "/metrics", "127.0.0.1"), 200, "/metrics to the local host")
        eq(status_from(s.base, "/metrics", "127.0.0.2"), 403, "/metrics refused to another address")
        eq(status_from(s.base, "/healthz", "127.0.0.2"), 200, "the API stays open to it")
        top_up_and_guard_pair(s)
        body_over_max_request_len(s)
        s.due = due_after_apache(s)
        # The events so far pushed by the running creditd before it is
        # stopped: one stopped in the middle of a round would leave its
        # claimed events leased (a minute at most) and hold up the next.
        check(wait_until(lambda: s.q("SELECT COUNT(*) FROM {db}.events WHERE state <> 'delivered'") == [["0"]],
                         timeout=15), "the running creditd pushed its events")
    finally:
        s.stop_apache()
    acct, hold, due = s.due
    eq(s.q("SELECT state FROM {db}.holds WHERE id = %s" % hold), [["pending"]], "the hold waits, Apache gone")
    eq(s.q("SELECT balance_micros FROM {db}.accounts WHERE ext_id = '%s'" % acct), [["1000000"]], "the grant too")
    warned = [line for line in s.error_log().splitlines() if "config_readable_by_others" in line]
    check(warned, "creditd warned at start that others may read its config: %s" % s.logs())


def test_the_crontab_line_does_the_background_work_with_no_creditd_alive():
    s = site()
    check(hasattr(s, "due"), "the site served first")
    acct, hold, due = s.due
    check(not s.creditd_pids(), "no creditd of the site alive")
    time.sleep(max(0.0, due + 1 - time.time()))
    before = len(s.receiver.got)
    p = s.as_user(s.local(crontab_line()), errexit=False)
    eq((p.stdout, p.stderr), ("", ""), "the cron job says nothing when all went well (cron would mail it)")
    eq(s.q("SELECT state FROM {db}.holds WHERE id = %s" % hold), [["expired"]], "the expired hold released")
    eq(s.q("SELECT balance_micros, reserved_micros FROM {db}.accounts WHERE ext_id = '%s'" % acct), [["0", "0"]],
       "the grant written off, nothing held")
    eq(s.q("SELECT cause FROM {db}.journal j JOIN {db}.accounts a ON a.id = j.account_id "
           "WHERE a.ext_id = '%s' ORDER BY j.id DESC LIMIT 1" % acct), [["expiry"]], "in the journal")
    # B's creation made a balance.low too (nothing on it yet): the one
    # after the due time is the sweep's.
    pushed = [(ev, ok) for ev, ok, status in s.receiver.got[before:] if ev["account"] == acct]
    low = [(ev, ok) for ev, ok in pushed if ev["type"] == "balance.low" and ev["created_at"] >= rfc3339(due)]
    eq(len(low), 1, "the balance.low the sweep made was pushed by the same run: %r" % pushed)
    eq(low[0][0]["data"]["balance_micros"], 0, "at the balance the sweep left")
    check(low[0][1], "signed with [notify] secret")
    eq(s.q("SELECT COUNT(*) FROM {db}.events WHERE state <> 'delivered'"), [["0"]], "every event delivered")
    check(not s.creditd_pids(), "still no creditd: the cron job did it all")


def test_creditctl_sweep_by_hand_prints_one_line():
    """The page's by-hand run: its summary line, exit 0; a sweep with
    nothing left does nothing; usage and a database it cannot reach."""
    s = site()
    p = s.as_user(block("sh", "creditd.conf sweep"))
    line = p.stdout.strip()
    eq(len(p.stdout.splitlines()), 1, "one line: %r" % p.stdout)
    m = re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ sweep: accounts=0 collections=0 topups_expired=0 "
                 r"charges_sent=0 charges_failed=0 charges_held=0 charges_looked_up=0 tries_cancelled=0 "
                 r"events_delivered=0 events_failed=0 mails=off seconds=\d+\.\d done$", line)
    check(m, "the summary: %r" % line)
    eq(p.stderr, "", "nothing on stderr")
    conf = os.path.join(s.home, "creditd", "creditd.conf")
    ctl = os.path.join(s.home, "creditd", "bin", "creditctl")
    p = s.as_user("%s -c %s sweep now" % (ctl, conf), check_rc=False)
    eq(p.returncode, 2, "usage: %s" % p.stderr)
    # The database away: exit 1, the line says failed, stderr says why.
    away = os.path.join(s.dir, "away.conf")
    s.write_as_user(away, s.config().replace(stack.path("mysql.sock"), os.path.join(s.dir, "no.sock")), 0o644)
    p = s.as_user("%s -c %s sweep" % (ctl, away), check_rc=False)
    eq(p.returncode, 1, "no database: exit 1 (%s)" % p.stderr)
    check(p.stdout.strip().endswith(" failed"), "the line says failed: %r" % p.stdout)
    eq(len(p.stderr.splitlines()), 1, "stderr says why, once (no round tried after): %r" % p.stderr)
    check("cannot connect to MariaDB" in p.stderr, "why: %r" % p.stderr)


class Session:
    """A root session on the stack's MariaDB that stays open: named locks
    and table locks last as long as their session."""

    def __init__(self):
        cnf = os.path.join(ENV["CREDITD_STACK_DIR"], "my.cnf")
        self.p = subprocess.Popen(["mariadb", "--defaults-file=" + cnf, "-N", "-B", "--unbuffered", "creditd"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def one(self, statement):
        """Runs a statement that answers one row of one value; returns it."""
        self.p.stdin.write(statement + ";\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().strip()

    def close(self):
        self.p.stdin.close()
        self.p.wait(30)


def sweep_line(p):
    eq(len(p.stdout.splitlines()), 1, "one line: %r" % p.stdout)
    return p.stdout.strip()


SKIPPED = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ sweep: another creditctl sweep is running on this database; nothing done$"


def test_a_sweep_started_while_one_runs_leaves_it_the_work():
    """Cron starts a run every minute, and a run may outlast the minute
    (a round already started runs to its end): the second run finds the
    first's lock and ends at once, doing nothing, with one line on stdout
    (cron's line drops it) and exit 0. The lock is the database's: one
    held for another database on the same server holds nothing up."""
    s = site()
    acct = s.due[0]
    ctl = "%s/creditd/bin/creditctl -c %s/creditd/creditd.conf sweep" % (s.home, s.home)
    event = int(s.q("SELECT MAX(id) FROM {db}.events WHERE account = '%s'" % acct)[0][0])
    again = "UPDATE {db}.events SET state = 'pending', next_attempt_at = 0 WHERE id = %d" % event
    # Two runs at once: the first held up by a receiver slow to answer.
    with s.receiver.lock:
        s.receiver.plan[acct] = ["slow"]
    s.q(again)
    before = len(s.receiver.arrived_of(acct))
    first = s.as_user_started(ctl)
    try:
        check(wait_until(lambda: len(s.receiver.arrived_of(acct)) > before, timeout=20),
              "the first run pushes the event")
        p = s.as_user(ctl, errexit=False)
        eq((p.returncode, p.stderr), (0, ""), "the second run: exit 0, nothing on stderr")
        check(re.match(SKIPPED, sweep_line(p)), "the second run says another runs: %r" % p.stdout)
    finally:
        out, err = first.communicate(timeout=60)
    eq((first.returncode, err), (0, ""), "the first run went on: %r" % out)
    check(" events_delivered=1 " in out and out.strip().endswith(" done"), "and did the work: %r" % out)
    # A session that holds the lock: another database's name, then this one's.
    held = Session()
    try:
        eq(held.one("SELECT GET_LOCK('creditd.sweep.creditd', 0)"), "1", "another site's lock taken")
        p = s.as_user(ctl)
        check(sweep_line(p).endswith(" done"), "another database's lock holds nothing up: %r" % p.stdout)
        # A co-tenant guessing the name from the database's alone (the
        # name before sql/041) holds nothing up either.
        eq(held.one("SELECT GET_LOCK('creditd.sweep.%s', 0)" % s.db), "1", "the guessable name taken")
        p = s.as_user(ctl)
        check(sweep_line(p).endswith(" done"), "a co-tenant's guess holds nothing up: %r" % p.stdout)
        eq(held.one("SELECT GET_LOCK(LEFT(CONCAT('creditd.sweep.', (SELECT value FROM %s.settings WHERE name = "
                    "'lock_salt'), '.', '%s'), 64), 0)" % (s.db, s.db)), "1", "this site's lock taken")
        s.q(again)
        arrived = len(s.receiver.arrived_of(acct))
        p = s.as_user(ctl)
        eq(p.stderr, "", "nothing on stderr")
        check(re.match(SKIPPED, sweep_line(p)), "held: the run does nothing: %r" % p.stdout)
        eq(s.q("SELECT state FROM {db}.events WHERE id = %d" % event), [["pending"]], "the event left pending")
        eq(len(s.receiver.arrived_of(acct)), arrived, "and not pushed")
    finally:
        held.close()
    p = s.as_user(ctl)
    check(" events_delivered=1 " in sweep_line(p), "the lock gone, the next run pushes it: %r" % p.stdout)


def test_a_stalled_database_ends_the_sweep_at_its_configured_timeout():
    """The sweep keeps the config's database timeouts (creditctl's other
    commands wait up to an hour for a statement): a table another session
    has locked holds each statement read_timeout_seconds, so the run ends,
    failed, long before cron's next runs pile up behind it."""
    s = site()
    conf = os.path.join(s.dir, "stall.conf")
    s.write_as_user(conf, s.config().replace("[database]\n", "[database]\nread_timeout_seconds = 1\n", 1), 0o600)
    ctl = os.path.join(s.home, "creditd", "bin", "creditctl")
    held = Session()
    try:
        held.p.stdin.write("LOCK TABLES %s.accounts WRITE;\n" % s.db)
        eq(held.one("SELECT 1"), "1", "the site's accounts locked by another session")
        started = time.time()
        p = s.as_user("%s -c %s sweep" % (ctl, conf), check_rc=False, errexit=False)
        took = time.time() - started
    finally:
        held.close()
    eq(p.returncode, 1, "failed: %s" % p.stderr)
    check(sweep_line(p).endswith(" failed"), "the line says so: %r" % p.stdout)
    check(took < 30, "ended at the configured timeout, not an hour later: %.1f s" % took)


def root_script(db, text):
    """SQL as root on the site's database, from a script (DELIMITER allowed)."""
    cnf = os.path.join(ENV["CREDITD_STACK_DIR"], "my.cnf")
    p = subprocess.run(["mariadb", "--defaults-file=" + cnf, db], input=text, capture_output=True, text=True,
                       timeout=60)
    check(p.returncode == 0, "sql failed: %s" % p.stderr)


def test_a_database_failure_before_a_charge_fails_the_sweep():
    """An auto-recharge due, and the database failing the decision made
    just before it goes to Stripe (a trigger refuses it): not sent, and
    not counted as held back by a dispute (there is none) but as failed,
    said on stderr with the database's words, and the run exits 1."""
    s = site()
    acct = "site-c-" + secrets.token_hex(4)
    ctl = "%s/creditd/bin/creditctl -c %s/creditd/creditd.conf" % (s.home, s.home)
    s.as_user("%s account create %s" % (ctl, acct))
    s.q("UPDATE {db}.accounts SET stripe_customer_id = 'cus_sweep', stripe_payment_method = 'pm_sweep' "
        "WHERE ext_id = '%s'" % acct)
    s.q("INSERT INTO {db}.recharges (account_id, amount_cents, state, attempts, next_attempt_at, created_at, "
        "updated_at) SELECT id, 500, 'queued', 0, 1, UNIX_TIMESTAMP(), UNIX_TIMESTAMP() FROM {db}.accounts "
        "WHERE ext_id = '%s'" % acct)
    charge = int(s.q("SELECT MAX(id) FROM {db}.recharges")[0][0])
    # The claim's lease moves next_attempt_at; the decision's update
    # leaves it: that one is refused.
    root_script(s.db, "DELIMITER //\nCREATE TRIGGER sweep_test_decide BEFORE UPDATE ON recharges FOR EACH ROW "
                "BEGIN IF NEW.id = %d AND NEW.next_attempt_at = OLD.next_attempt_at THEN SIGNAL SQLSTATE '45000' "
                "SET MESSAGE_TEXT = 'refused by the test'; END IF; END//\n" % charge)
    try:
        p = s.as_user("%s sweep" % ctl, check_rc=False, errexit=False)
    finally:
        root_script(s.db, "DROP TRIGGER sweep_test_decide;\n")
        s.q("UPDATE {db}.recharges SET state = 'failed', next_attempt_at = 0 WHERE id = %d" % charge)
    eq(p.returncode, 1, "the run failed: %r" % ((p.stdout, p.stderr),))
    line = sweep_line(p)
    check(" charges_sent=0 charges_failed=1 charges_held=0 " in line and line.endswith(" failed"),
          "counted as failed, not held: %r" % line)
    check("the database failed" in p.stderr and "refused by the test" in p.stderr,
          "stderr names the database's failure: %r" % p.stderr)


def test_an_acl_for_apaches_user_needs_no_opt_in():
    """The page's middle way: 0600 and an ACL giving Apache's user read.
    The mode then shows 0640 (the ACL's mask): creditd, run as www-data
    with the wrapper's environment, reads it and accepts it without
    config_readable_by_others. setfacl when installed, else the same ACL
    written as its extended attribute."""
    s = site()
    conf = os.path.join(s.dir, "acl.conf")
    s.write_as_user(conf, s.config().replace(block("ini", "config_readable_by_others"), ""), 0o600)
    acl_line = [line for line in block("sh", "setfacl").splitlines() if line.startswith("setfacl")][0]
    if shutil.which("setfacl"):
        s.as_user(acl_line.replace("~/creditd/creditd.conf", conf))
    else:
        set_acl_xattr(conf, pwd.getpwnam("www-data").pw_uid)
    eq(os.stat(conf).st_mode & 0o777, 0o640, "the ACL's mask shows as the group's bits")
    binary = os.path.join(s.home, "creditd", "bin", "creditd")
    p = subprocess.run(["runuser", "-u", "www-data", "--", "env", "-i", "CREDITD_CONFIG=" + conf, binary,
                        "--check-config"], capture_output=True, text=True, timeout=30)
    eq((p.returncode, p.stdout.strip()), (0, "creditd: configuration OK"), "www-data reads it: %s" % p.stderr)
    os.chmod(conf, 0o644)
    p = subprocess.run(["runuser", "-u", "www-data", "--", "env", "-i", "CREDITD_CONFIG=" + conf, binary,
                        "--check-config"], capture_output=True, text=True, timeout=30)
    check(p.returncode != 0 and "config_readable_by_others" in p.stderr, "0644 without the opt-in: refused, "
          "the way out named: %s" % p.stderr)


def set_acl_xattr(path, uid):
    """setfacl -m u:UID:r on a 0600 file, as the kernel stores it: version 2,
    then (tag, permissions, id) for the owner, the user, the group, the
    mask and others."""
    import struct
    undefined = 0xFFFFFFFF
    entries = [(0x01, 6, undefined), (0x02, 4, uid), (0x04, 0, undefined), (0x10, 4, undefined),
               (0x20, 0, undefined)]
    os.setxattr(path, "system.posix_acl_access",
                struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in entries))
