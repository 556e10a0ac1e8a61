"""test_08_source_install.py: creditd from source as docs/install.md says.
A copy of the tree is built with `autoreconf -fi && ./configure && make`
(no option: the default prefix, /usr/local) and installed with `make
install-system DESTDIR=...` (as root: it makes the creditd system user on
this host, as the package does; removed after when the test made it). Then every path the docs and the units
name is where they say, under DESTDIR:
- the binaries, man pages, sql/, snippets, alert rules and dashboard;
- the units, where systemd looks (pkg-config systemd), running the
  installed binary with the config the binary reads by default and the
  package uses (/etc/creditd/creditd.conf);
- each path named in install.md's source-install block;
- the config, root:creditd 0640, and the log directory of the creditd
  user;
and the installed binaries work: creditd, run as the unit's user, reads
its config; creditctl finds its migrations where they were installed;
creditd serves the test stack through nginx. And `make distcheck`: the
release tarball builds and passes its own unit tests."""
import os
import re
import shutil
import subprocess
import tempfile

import stack
from lib import ENV, api, check, eq, new_account, wait_until


def run(cmd, cwd=None, timeout=900, env=None):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, errors="replace", timeout=timeout,
                          env=env)


def doc_block(name):
    """The lines between <!-- NAME --> and <!-- /NAME --> in install.md."""
    text = open(os.path.join(stack.ROOT, "docs", "install.md")).read()
    m = re.search(r"<!-- %s[^>]*-->(.*?)<!-- /%s -->" % (name, name), text, re.S)
    check(m is not None, "install.md has a %s block" % name)
    return m.group(1)


def unit_value(unit, key):
    for line in unit.splitlines():
        if line.startswith(key + "="):
            return line.split("=", 1)[1].strip()
    return None


def built_tree_copy(src):
    """The tree as ./dev built it for the tests (with the test clock),
    copied with what its build made: its objects, binaries and config."""
    with open(os.path.join(stack.ROOT, "build-flavor.stamp")) as f:
        check("CREDITD_TEST_CLOCK" in f.read(), "the tree tested is the tests' build, with the test clock")
    shutil.copytree(stack.ROOT, src, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".dev", "node_modules", "output", "__pycache__"))


def build_and_install(work):
    """The tree built as ./dev check builds it (with the test clock: its
    own build, copied), then configured as install.md says and installed:
    the install rebuilds every object (the build's flavour changed) and
    never installs a binary that reads the test clock's file."""
    src, dest = os.path.join(work, "src"), os.path.join(work, "dest")
    built_tree_copy(src)
    for cmd in (["autoreconf", "-fi"], ["./configure"]):
        p = run(cmd, cwd=src, timeout=1200)
        eq(p.returncode, 0, "%s: %s" % (" ".join(cmd), (p.stdout + p.stderr)[-3000:]))
    p = run(["make", "-j2", "install-system", "DESTDIR=" + dest], cwd=src)
    eq(p.returncode, 0, "make install-system: %s" % (p.stdout + p.stderr)[-3000:])
    for b in ("creditd", "creditctl"):
        with open(os.path.join(dest, "usr", "local", "bin", b), "rb") as f:
            check(b"CREDITD_TEST_CLOCK_FILE" not in f.read(), "the installed %s has no test clock" % b)
    return src, dest


def config_value(text, section, key):
    """key's value under [section] of an INI text, or None."""
    current = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            current = line.strip("[]")
        elif current == section and line.split("=")[0].strip() == key:
            return line.split("=", 1)[1].strip()
    return None


def test_the_shipped_config_is_a_production_one():
    """What the package and make install-system install as
    /etc/creditd/creditd.conf (etc/creditd.conf.example): no free credit
    to every account an app creates, and enough threads for the web
    servers' pooled connections with Debian's defaults (Apache mpm_event:
    up to 6 children x the snippet's max; nginx: keepalive x one worker a
    CPU of this host)."""
    text = open(os.path.join(stack.ROOT, "etc", "creditd.conf.example")).read()
    eq(config_value(text, "ledger", "signup_bonus_micros"), "0", "no signup bonus")
    threads = int(config_value(text, "server", "threads"))
    apache = open(os.path.join(stack.ROOT, "apache", "creditd-proxy-fcgi.conf")).read()
    pool_max = int(re.search(r"enablereuse=on max=(\d+)", apache).group(1))
    nginx = open(os.path.join(stack.ROOT, "nginx", "example-server.conf")).read()
    keepalive = int(re.search(r"^\s*keepalive (\d+);", nginx, re.M).group(1))
    check(threads > 6 * pool_max, "threads %d above Apache's default pool of 6 x %d" % (threads, pool_max))
    check(threads > keepalive * os.cpu_count(), "threads %d above nginx's pool here: %d x %d CPUs" %
          (threads, keepalive, os.cpu_count()))


def test_the_release_tarball_passes_its_own_checks():
    """make distcheck: the tarball `make dist` makes (what a release is
    built from) unpacked, built out of its read-only tree, its unit tests
    (make check) passed, installed and uninstalled cleanly. It failed when
    the tarball lacked the docs test_config_docs and test_api_docs read,
    and on a rule that wrote into the source tree."""
    work = tempfile.mkdtemp(prefix="creditd-distcheck.", dir=stack.path())
    src = os.path.join(work, "src")
    stack.tree_copy(src)
    for cmd in (["autoreconf", "-fi"], ["./configure"], ["make", "-j2", "distcheck"]):
        p = run(cmd, cwd=src, timeout=1800)
        eq(p.returncode, 0, "%s: %s" % (" ".join(cmd), (p.stdout + p.stderr)[-4000:]))
    check(re.search(r"^# FAIL: +0$", p.stdout, re.M) and re.search(r"^# ERROR: +0$", p.stdout, re.M),
          "the tarball's make check: no failure")
    total = re.search(r"^# TOTAL: +(\d+)$", p.stdout, re.M)
    check(total is not None and int(total.group(1)) > 1000, "the tarball ran the unit tests: %s" % p.stdout[-600:])
    check("ready for distribution" in p.stdout, "distcheck passed: %s" % p.stdout[-600:])
    shutil.rmtree(work, ignore_errors=True)


def test_source_install_layout_and_start():
    had_user = run(["getent", "passwd", "creditd"]).returncode == 0
    try:
        layout_and_start()
    finally:
        if not had_user:    # made by install-system for the test
            run(["userdel", "creditd"])
            run(["groupdel", "creditd"])


def layout_and_start():
    work = tempfile.mkdtemp(prefix="creditd-src.", dir=stack.path())
    src, dest = build_and_install(work)
    at = lambda path: dest + path  # noqa: E731
    for path in ("/usr/local/bin/creditd", "/usr/local/bin/creditctl", "/usr/local/share/man/man8/creditd.8",
                 "/usr/local/share/man/man8/creditctl.8", "/usr/local/share/man/man5/creditd.conf.5",
                 "/usr/local/share/creditd/prices.csv", "/usr/local/share/creditd/creditd.conf.example",
                 "/usr/local/share/creditd/nginx/creditd-fastcgi.conf",
                 "/usr/local/share/creditd/nginx/creditd-gateway.conf",
                 "/usr/local/share/creditd/nginx/creditd-gateway-upload.conf",
                 "/usr/local/share/creditd/apache/creditd-proxy-fcgi.conf",
                 "/usr/local/share/creditd/apache/errors/503.json",
                 "/usr/local/share/creditd/prometheus/creditd-alerts.yml",
                 "/usr/local/share/creditd/grafana/creditd-dashboard.json",
                 "/etc/creditd/creditd.conf", "/etc/logrotate.d/creditd"):
        check(os.path.exists(at(path)), "installed: %s" % path)
    for sql in sorted(os.listdir(os.path.join(stack.ROOT, "sql"))):
        check(os.path.exists(at("/usr/local/share/creditd/sql/" + sql)), "every migration: %s" % sql)
    # The units where systemd looks, naming what was installed.
    unitdir = run(["pkg-config", "--variable=systemdsystemunitdir", "systemd"]).stdout.strip() or "/lib/systemd/system"
    units = {}
    for name in ("creditd.service", "creditd.socket", "creditd-reconcile.service", "creditd-reconcile.timer"):
        check(os.path.exists(at(unitdir + "/" + name)), "unit %s in %s" % (name, unitdir))
        units[name] = open(at(unitdir + "/" + name)).read()
    check("@" not in re.sub(r"%%|@system-service|@privileged|@resources|@\w+ ", "", units["creditd.service"]),
          "no placeholder left in creditd.service")
    eq(unit_value(units["creditd.service"], "ExecStart"), "/usr/local/bin/creditd -c /etc/creditd/creditd.conf",
       "the service runs the installed creditd on /etc/creditd's config")
    eq(unit_value(units["creditd.service"], "User"), "creditd", "the service's user")
    check("/usr/local/bin/creditctl -c /etc/creditd/creditd.conf" in units["creditd-reconcile.service"],
          "the reconcile unit runs the installed creditctl")
    # The binary reads by default the config the units and the package name.
    out = run([at("/usr/local/bin/creditd"), "--help"]).stdout
    check("else /etc/creditd/creditd.conf" in out, "creditd's default config is /etc/creditd/creditd.conf: %r" % out)
    out = run([at("/usr/local/bin/creditctl")]).stderr
    check("else /etc/creditd/creditd.conf" in out, "creditctl's too: %r" % out)
    # Every absolute path of install.md's source-install block.
    rows = [line.split("|") for line in doc_block("source-layout").splitlines() if line.startswith("| ")]
    named = sorted(set(p for row in rows[1:] for p in re.findall(r"(/(?:usr|etc|lib|var)/[\w./-]+\w)", row[2])))
    check(len(named) >= 8, "the block names the layout: %r" % named)
    for path in named:
        check(os.path.exists(at(path)), "install.md names %s: installed" % path)
    # The config: the creditd user's, holding secrets, readable by no other.
    conf = at("/etc/creditd/creditd.conf")
    st = os.stat(conf)
    eq(oct(st.st_mode & 0o7777), "0o640", "the config's mode")
    eq((run(["id", "-nu", str(st.st_uid)]).stdout.strip(), run(["getent", "group", str(st.st_gid)]).stdout.split(":")[0]),
       ("root", "creditd"), "root:creditd")
    check("\nlisten =\n" in open(conf).read(), "the installed config leaves the socket to systemd, as the package's")
    logdir = at("/var/log/creditd")
    eq(run(["stat", "-c", "%U:%G %a", logdir]).stdout.strip(), "creditd:creditd 750",
       "the log directory, as the unit's LogsDirectory= leaves it")
    # creditd as the unit's user reads the installed config. The path to
    # it is opened for that user (DESTDIR is under the stack's 0700 dir).
    with_secret = conf + ".test"
    shutil.copy(conf, with_secret)
    with open(with_secret, "a") as f:
        f.write("\n[widget]\ntoken_secret = %s\n" % ("s" * 40))
    os.chown(with_secret, 0, st.st_gid)
    os.chmod(with_secret, 0o640)
    opened = []
    d = os.path.dirname(with_secret)
    while d != "/":
        if not os.stat(d).st_mode & 0o001:
            os.chmod(d, os.stat(d).st_mode | 0o001)
            opened.append(d)
        d = os.path.dirname(d)
    try:
        p = run(["setpriv", "--reuid=creditd", "--regid=creditd", "--init-groups", "--",
                 at("/usr/local/bin/creditd"), "-c", with_secret, "--check-config"],
                # the installed log directory (its path under DESTDIR): --check-config opens it as a start would
                env={"PATH": "/usr/bin:/bin", "CREDITD_LOG": at("/var/log/creditd/creditd.log")})
        eq(p.returncode, 0, "creditd as creditd reads the installed config: %s" % p.stderr)
        os.chmod(with_secret, 0o644)
        p = run(["setpriv", "--reuid=creditd", "--regid=creditd", "--init-groups", "--",
                 at("/usr/local/bin/creditd"), "-c", with_secret, "--check-config"], env={"PATH": "/usr/bin:/bin"})
        check(p.returncode != 0 and "readable by others" in p.stderr, "a secret readable by all is refused: %r" % p.stderr)
    finally:
        for d in opened:
            os.chmod(d, os.stat(d).st_mode & ~0o001)
    # creditctl finds the migrations where make install put them.
    env = {k: v for k, v in os.environ.items() if k != "CREDITD_SQL_DIR"}
    p = run([at("/usr/local/bin/creditctl"), "-c", ENV["CREDITD_CONFIG"], "migrate", "--check"], env=env)
    check(p.returncode != 0 and "/usr/local/share/creditd/sql" in p.stderr,
          "creditctl looks for sql/ in /usr/local/share/creditd: %r" % p.stderr)
    p = run([at("/usr/local/bin/creditctl"), "-c", ENV["CREDITD_CONFIG"], "migrate", "--check", "--sql-dir",
             at("/usr/local/share/creditd/sql")])
    eq((p.returncode, p.stdout), (0, ""), "the installed migrations are the applied ones: %s" % p.stderr)
    # The installed creditd serves the stack.
    stack.creditd_kill9()
    try:
        sock = stack.path("creditd.sock")
        stack.start("creditd", [at("/usr/local/bin/creditd"), "-c", ENV["CREDITD_CONFIG"], "--listen", "unix:" + sock],
                    env={"CREDITD_BASE_PATH": "/"})
        check(wait_until(lambda: stack.health() == 200, timeout=15), "the installed creditd serves through nginx")
        acct = new_account("src")
        eq(api("GET", "/v1/accounts/" + acct, auth="read").status, 200, "an API call")
    finally:
        stack.creditd_kill9()
        stack.creditd_start()
    shutil.rmtree(work, ignore_errors=True)


def test_a_user_prefix_keeps_everything_under_it():
    """--prefix=$HOME/...: the config, the units and the log under it, and
    nothing written outside it (a user without root)."""
    work = tempfile.mkdtemp(prefix="creditd-prefix.", dir=stack.path())
    src = os.path.join(work, "src")
    stack.tree_copy(src)
    prefix = os.path.join(work, "home", "creditd")
    for cmd in (["autoreconf", "-fi"], ["./configure", "--prefix=" + prefix]):
        p = run(cmd, cwd=src, timeout=600)
        eq(p.returncode, 0, "%s: %s" % (" ".join(cmd), (p.stdout + p.stderr)[-2000:]))
    mk = open(os.path.join(src, "Makefile")).read()
    for var, want in (("sysconfdir", "${prefix}/etc"), ("localstatedir", "${prefix}/var"),
                      ("systemdsystemunitdir", "${prefix}/lib/systemd/system")):
        m = re.search(r"^%s = (.*)$" % var, mk, re.M)
        eq(m and m.group(1), want, var + " under the prefix")
    shutil.rmtree(work, ignore_errors=True)
