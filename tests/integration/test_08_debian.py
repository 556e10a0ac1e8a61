"""test_08_debian.py: the Debian package as a sysadmin gets it.
`dpkg-buildpackage -us -uc -b` builds creditd_*.deb from a copy of the
tree; lintian finds no error or warning in it; it holds the daemon,
creditctl, the man pages, the systemd units, the web server snippets and
sql/ under /usr/share/creditd, and /etc/creditd/creditd.conf as a conffile
set up for socket activation; and its binaries, unpacked, run against the
test stack: creditctl verify, and the packaged creditd serving through
nginx."""
import glob
import os
import re
import subprocess
import tempfile

import stack
from lib import ENV, api, check, eq, new_account, sql

# The package test_build_lintian_and_run_the_package built, for the upgrade.
BUILT = {}


def run(cmd, cwd=None, timeout=900, env=None):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def test_build_lintian_and_run_the_package():
    work = tempfile.mkdtemp(prefix="creditd-deb.", dir=stack.path())
    src = os.path.join(work, "src")
    stack.tree_copy(src)
    # The unit tests ran on these flags already: ./dev builds the tree with
    # the package's own (dpkg-buildflags, hardening=+all), so the package's
    # build leaves them out (nocheck) rather than run them a second time.
    mk = open(os.path.join(stack.ROOT, "Makefile")).read()
    flags = {v: re.search(r"^%s = (.*)$" % v, mk, re.M).group(1) for v in ("CFLAGS", "CPPFLAGS", "LDFLAGS")}
    want = {v: subprocess.run(["dpkg-buildflags", "--get", v], capture_output=True, text=True, cwd=stack.ROOT, env=dict(
        os.environ, DEB_BUILD_MAINT_OPTIONS="hardening=+all")).stdout.strip() for v in flags}
    for v in flags:
        eq(flags[v].replace(stack.ROOT, "."), want[v].replace(stack.ROOT, "."), "the tree tested is built with the package's %s" % v)
    p = run(["dpkg-buildpackage", "-us", "-uc", "-b", "-jauto"], cwd=src, timeout=1200,
            env=dict(os.environ, DEB_BUILD_OPTIONS="nocheck"))
    eq(p.returncode, 0, "dpkg-buildpackage: %s" % (p.stdout + p.stderr)[-3000:])
    debs = [d for d in glob.glob(os.path.join(work, "creditd_*.deb"))]
    eq(len(debs), 1, "one creditd_*.deb: %r" % os.listdir(work))
    BUILT.update(deb=debs[0], work=work)
    lint = run(["lintian", "--no-tag-display-limit", debs[0]])
    tags = [line for line in lint.stdout.splitlines() if line[:2] in ("E:", "W:")]
    eq(tags, [], "lintian: no error or warning")
    listing = run(["dpkg-deb", "-c", debs[0]]).stdout
    for path in ("./usr/bin/creditd", "./usr/bin/creditctl", "./usr/share/man/man8/creditd.8.gz",
                 "./usr/share/man/man8/creditctl.8.gz", "./usr/share/man/man5/creditd.conf.5.gz",
                 "./lib/systemd/system/creditd.service", "./lib/systemd/system/creditd.socket",
                 "./usr/share/creditd/nginx/creditd-fastcgi.conf", "./usr/share/creditd/apache/creditd-proxy-fcgi.conf",
                 "./usr/share/creditd/prometheus/creditd-alerts.yml", "./usr/share/creditd/grafana/creditd-dashboard.json",
                 "./etc/creditd/creditd.conf", "./etc/logrotate.d/creditd",
                 "./usr/share/doc/creditd/changelog.gz", "./usr/share/doc/creditd/README.Debian",
                 "./usr/share/doc/creditd/install.md.gz", "./usr/share/doc/creditd/operations.md.gz",
                 "./usr/share/doc/creditd/api.md.gz"):
        check(path in listing, "the package has %s" % path)
    for sql in sorted(os.listdir(os.path.join(stack.ROOT, "sql"))):
        check("./usr/share/creditd/sql/" + sql in listing, "every migration: %s" % sql)
    control = open(os.path.join(stack.ROOT, "debian", "control")).read()
    build_deps = re.search(r"^Build-Depends:(.*?)^\S", control, re.S | re.M).group(1)
    check(re.search(r"\bpython3\b", build_deps), "make check (dh_auto_test) runs python3: a build dependency")
    mode = [line.split()[0] for line in listing.splitlines() if line.endswith(" ./etc/creditd/creditd.conf")]
    eq(mode, ["-rw-r-----"], "the config is shipped 0640, never readable by others (dh_fixperms made it 0644)")
    conffiles = run(["dpkg-deb", "-I", debs[0], "conffiles"]).stdout
    check("/etc/creditd/creditd.conf" in conffiles, "the config is a conffile")
    postinst = run(["dpkg-deb", "-I", debs[0], "postinst"]).stdout
    check("adduser --system" in postinst, "postinst makes the system user")
    starts = [line for line in postinst.splitlines() if "deb-systemd-invoke" in line and "try-restart" not in line]
    eq(starts, [], "nothing started by the package itself (the config is not edited yet)")
    check("chown root:creditd /etc/creditd/creditd.conf" in postinst and "chmod 0640 /etc/creditd/creditd.conf"
          in postinst, "postinst lets creditd, and only it, read the config")
    root = os.path.join(work, "root")
    eq(run(["dpkg-deb", "-x", debs[0], root]).returncode, 0, "unpacked")
    conf = open(os.path.join(root, "etc", "creditd", "creditd.conf")).read()
    check("\nlisten =\n" in conf, "the packaged config leaves the socket to systemd")
    # Shipped 0640 root:root, it sets no secret; postinst makes it
    # root:creditd 0640 so that creditd's user may read it.
    secrets = [line for line in conf.splitlines()
               if re.match(r"(password|migrate_password|secret_key|webhook_secrets|token_secret|secret) *= *\S", line)]
    eq(secrets, [], "the packaged config sets no secret")
    unit = open(os.path.join(root, "lib", "systemd", "system", "creditd.service")).read()
    check("ExecStart=/usr/bin/creditd -c /etc/creditd/creditd.conf" in unit, "the unit runs the packaged daemon")
    # The packaged binaries against the test stack.
    bin_ctl, bin_d = os.path.join(root, "usr", "bin", "creditctl"), os.path.join(root, "usr", "bin", "creditd")
    eq(run([bin_d, "--version"]).stdout.strip(), run([os.path.join(stack.ROOT, "creditd"), "--version"]).stdout.strip(),
       "the same version as the tree")
    p = run([bin_ctl, "-c", ENV["CREDITD_CONFIG"], "verify"])
    eq(p.returncode, 0, "packaged creditctl verify: %s" % p.stdout)
    p = run([bin_ctl, "-c", ENV["CREDITD_CONFIG"], "migrate", "--sql-dir", os.path.join(root, "usr", "share", "creditd",
                                                                                         "sql")])
    eq(p.returncode, 0, "the packaged migrations are the applied ones: %s" % p.stderr)
    stack.creditd_kill9()
    try:
        sock = stack.path("creditd.sock")
        stack.start("creditd", [bin_d, "-c", ENV["CREDITD_CONFIG"], "--listen", "unix:" + sock],
                    env={"CREDITD_BASE_PATH": "/"})
        from lib import wait_until
        check(wait_until(lambda: stack.health() == 200, timeout=15), "the packaged creditd serves through nginx")
        acct = new_account("deb")
        eq(api("GET", "/v1/accounts/" + acct, auth="read").status, 200, "an API call")
        eq(api("GET", "/widget/creditd-widget.js", auth=None).status, 200, "the built-in widget script")
    finally:
        stack.creditd_kill9()
        stack.creditd_start()


def repack(deb, work, name, version, drop=(), add=None):
    """deb again as VERSION, less the migrations named in drop, plus add
    (name -> SQL) in its sql/."""
    root = os.path.join(work, name)
    eq(run(["dpkg-deb", "-R", deb, root]).returncode, 0, "dpkg-deb -R")
    control = os.path.join(root, "DEBIAN", "control")
    text = re.sub(r"(?m)^Version: .*$", "Version: " + version, open(control).read())
    open(control, "w").write(text)
    sqldir = os.path.join(root, "usr", "share", "creditd", "sql")
    for f in drop:
        os.unlink(os.path.join(sqldir, f))
    for f, body in (add or {}).items():
        with open(os.path.join(sqldir, f), "w") as out:
            out.write(body)
    sums = run(["sh", "-c", "find usr lib etc -type f ! -path 'etc/*' -print0 | sort -z | xargs -0 md5sum"], cwd=root)
    open(os.path.join(root, "DEBIAN", "md5sums"), "w").write(sums.stdout)
    out = os.path.join(work, "%s.deb" % name)
    p = run(["dpkg-deb", "-b", "--root-owner-group", root, out])
    eq(p.returncode, 0, "dpkg-deb -b: %s" % p.stderr)
    return out


SHIM = """#!/bin/sh
# Stands in for %s: logs the call and, for a restart, whether the schema
# was current at that moment (creditctl migrate --check's exit status).
rc=-
case "$*" in *restart*creditd.service*)
	rc=0; /usr/bin/creditctl migrate --check >/dev/null 2>&1 || rc=$? ;;
esac
echo "%s $* schema-check=$rc" >>%s
exit 0
"""


def database_lines(name, owner, runtime):
    """[database] as a careful admin writes it: no password in the
    config (the runtime user's is in /etc/default/creditd, the owner's in
    the root-only /etc/creditd/migrate.pw)."""
    return ("socket = %s\nname = %s\nuser = %s\nmigrate_user = %s\n"
            % (os.path.join(ENV["CREDITD_STACK_DIR"], "mysql.sock"), name, runtime, owner))


def point_config_at(path, lines):
    """The installed config's [database] section replaced by lines."""
    out, skip = [], False
    for line in open(path).read().splitlines(True):
        if line.startswith("["):
            skip = line.strip() == "[database]"
            if skip:
                out.append(line + lines)
                continue
        if not skip:
            out.append(line)
    with open(path, "w") as f:
        f.write("".join(out))


def host_env(shims=None):
    """The environment of a sysadmin's shell: none of the test stack's
    CREDITD_* variables (CREDITD_CONFIG would name the stack's config)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITD_")}
    env["PATH"] = (shims + ":" if shims else "") + os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
    return env


def dpkg(args, shims):
    """dpkg in a mount namespace of its own where /run/systemd/system
    exists (a private tmpfs on /run/systemd): the maintainer scripts take
    systemd for running and call the stand-ins; the host's /run is not
    touched."""
    env = dict(host_env(shims), DEBIAN_FRONTEND="noninteractive")
    os.makedirs("/run/systemd", exist_ok=True)
    script = 'mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/system && exec dpkg --force-confold "$@"'
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "dpkg"] + args,
                          capture_output=True, text=True, timeout=600, env=env)


def make_shims(work):
    """Stand-ins of deb-systemd-invoke and systemctl in work/shims that log
    each call to work/systemd-calls.log (SHIM): (the directory, the log)."""
    shims, log = os.path.join(work, "shims"), os.path.join(work, "systemd-calls.log")
    os.makedirs(shims, exist_ok=True)
    for tool in ("deb-systemd-invoke", "systemctl"):
        with open(os.path.join(shims, tool), "w") as f:
            f.write(SHIM % (tool, tool, log))
        os.chmod(os.path.join(shims, tool), 0o755)
    return shims, log


def undo_install(shims, had_user, db, owner, runtime):
    """What a test's install left: the secrets' files, the package, the
    user it made, its database and users."""
    for f in ("/etc/default/creditd", "/etc/creditd/migrate.pw"):
        if os.path.exists(f):
            os.unlink(f)
    dpkg(["--purge", "creditd"], shims)
    if not had_user:
        remove_user("creditd")
    sql("DROP DATABASE IF EXISTS %s; DROP USER IF EXISTS '%s'@'localhost', '%s'@'localhost'" % (db, owner, runtime))


def user_exists(name):
    return run(["getent", "passwd", name]).returncode == 0


def remove_user(name):
    """The system user and group a test made (the package leaves them)."""
    run(["userdel", name])
    run(["groupdel", name])


# A runtime password systemd's EnvironmentFile takes as it is, and a shell
# would not: postinst must read /etc/default/creditd, never run it.
RUNTIME_PASSWORD = "pk$$w0rd&x y"


def test_an_upgrade_migrates_before_it_restarts():
    """Installs an older creditd (the built package less its last
    migration), migrates its schema, then upgrades to the built package:
    postinst checks the schema as the runtime user (its password in
    /etc/default/creditd), applies the new migration as the schema's owner
    (its password in /etc/creditd/migrate.pw) after systemd reloaded the
    units, and only then restarts creditd. An upgrade whose migration
    fails fails, and does not restart creditd. systemd is not PID 1 here:
    deb-systemd-invoke and systemctl are stand-ins that log each call
    (and, for a restart, whether the schema was current), and dpkg runs
    where /run/systemd/system exists so that the maintainer scripts call
    them."""
    check("deb" in BUILT, "the package was built by the test before")
    p = run(["dpkg-query", "-W", "-f", "${Status}", "creditd"])
    check("installed" not in p.stdout, "no creditd package on this host before the test (it installs and purges its "
          "own): %r" % p.stdout)
    check(not os.path.exists("/etc/default/creditd"), "no /etc/default/creditd before the test")
    work = BUILT["work"]
    migrations = sorted(f for f in os.listdir(os.path.join(stack.ROOT, "sql")) if f.endswith(".sql"))
    last = migrations[-1]
    old = repack(BUILT["deb"], work, "old", "0.1.99", drop=[last])
    broken = repack(BUILT["deb"], work, "broken", "0.2.0+broken1",
                    add={"999_broken.sql": "CREATE TABLE broken (id BIGINT NOT NULL PRIMARY KEY, ;\n"})
    shims, log = make_shims(work)
    had_user = user_exists("creditd")
    db, owner, runtime, owner_pw = "creditd_pkg", "creditd_pkg_owner", "creditd_pkg_rt", "owner-pass-0123456789"
    sql("CREATE DATABASE %s; CREATE USER '%s'@'localhost' IDENTIFIED BY '%s'; GRANT ALL ON %s.* TO '%s'@'localhost';"
        "CREATE USER '%s'@'localhost' IDENTIFIED BY '%s';"
        "GRANT SELECT, INSERT, UPDATE, DELETE, EXECUTE ON %s.* TO '%s'@'localhost'"
        % (db, owner, owner_pw, db, owner, runtime, RUNTIME_PASSWORD, db, runtime))
    try:
        p = dpkg(["-i", old], shims)
        eq(p.returncode, 0, "the older package installs: %s" % (p.stdout + p.stderr)[-3000:])
        check("nothing is started" in p.stderr and "enable --now creditd.socket" in p.stderr,
              "a first install says what to do: %r" % p.stderr[-1000:])
        calls = open(log).read().splitlines() if os.path.exists(log) else []
        eq([c for c in calls if "start" in c and "creditd" in c], [], "nothing started on a first install")
        check(not os.path.exists("/etc/systemd/system/sockets.target.wants/creditd.socket"),
              "nor enabled: the config is not edited yet")
        check(user_exists("creditd"), "the creditd user")
        eq(run(["stat", "-c", "%U:%G %a", "/etc/creditd/creditd.conf"]).stdout.strip(), "root:creditd 640",
           "the config is the creditd user's to read")
        eq(run(["stat", "-c", "%U:%G %a", "/var/log/creditd"]).stdout.strip(), "creditd:creditd 750",
           "the log directory, as LogsDirectory= leaves it")
        point_config_at("/etc/creditd/creditd.conf", database_lines(db, owner, runtime))
        with open("/etc/default/creditd", "w") as f:
            f.write('# the runtime password, out of the config\nCREDITD_DB_PASSWORD="%s"\n' % RUNTIME_PASSWORD)
        os.chmod("/etc/default/creditd", 0o600)
        with open("/etc/creditd/migrate.pw", "w") as f:
            f.write(owner_pw + "\n")
        os.chmod("/etc/creditd/migrate.pw", 0o600)
        p = subprocess.run(["/usr/bin/creditctl", "migrate", "--password-file", "/etc/creditd/migrate.pw"],
                           capture_output=True, text=True, timeout=300, env=host_env())
        eq(p.returncode, 0, "the older schema: %s" % p.stderr)
        check(last not in p.stdout, "the older package has no %s" % last)
        p = subprocess.run(["setpriv", "--reuid=creditd", "--regid=creditd", "--init-groups", "--",
                            "/usr/bin/creditd", "--check-config"], capture_output=True, text=True, timeout=60,
                           env=host_env())
        eq(p.returncode, 0, "creditd as its user reads /etc/creditd/creditd.conf by default: %s" % p.stderr)
        open(log, "w").close()
        p = dpkg(["-i", BUILT["deb"]], shims)
        eq(p.returncode, 0, "the upgrade: %s" % (p.stdout + p.stderr)[-3000:])
        check("applied " + last in p.stdout, "postinst migrated: %r" % p.stdout[-2000:])
        calls = open(log).read().splitlines()
        restarts = [c for c in calls if "restart" in c and "creditd.service" in c]
        eq(restarts, ["deb-systemd-invoke try-restart creditd.service schema-check=0"],
           "one restart of creditd, on a schema already migrated: %r" % calls)
        reloads = [i for i, c in enumerate(calls) if "daemon-reload" in c]
        check(reloads and reloads[0] < calls.index(restarts[0]), "systemd reloads the units before: %r" % calls)
        eq(sql("SELECT COUNT(*) FROM %s.schema_migrations WHERE name = '%s'" % (db, last)), [["1"]],
           "the new migration is applied")
        eq(sql("SELECT DEFINER FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = '%s' AND ROUTINE_NAME = "
               "'cd_write'" % db), [["%s@localhost" % owner]], "as the schema's owner")
        # creditctl sees the secrets creditd's unit sees: the runtime
        # password is only in /etc/default/creditd.
        p = subprocess.run(["/usr/bin/creditctl", "verify"], capture_output=True, text=True, timeout=120,
                           env=host_env())
        eq(p.returncode, 0, "creditctl reads /etc/default/creditd as the unit does: %s" % p.stderr)
        p = subprocess.run(["/usr/bin/creditctl", "--env-file", "/dev/null", "verify"], capture_output=True, text=True,
                           timeout=120, env=host_env())
        check(p.returncode != 0 and "denied" in p.stderr.lower(), "without it, no password: %r" % p.stderr[-300:])
        # A migration that fails: the upgrade fails, creditd not restarted.
        open(log, "w").close()
        p = dpkg(["-i", broken], shims)
        check(p.returncode != 0, "an upgrade whose migration fails fails")
        check("was not migrated" in p.stderr and "999_broken.sql" in p.stderr,
              "and says why: %r" % p.stderr[-2000:])
        calls = open(log).read().splitlines()
        eq([c for c in calls if "restart" in c and "creditd.service" in c], [], "no restart: %r" % calls)
        eq(sql("SELECT COUNT(*) FROM %s.schema_migrations WHERE name = '999_broken.sql'" % db), [["0"]],
           "nothing recorded of the failed migration")
    finally:
        undo_install(shims, had_user, db, owner, runtime)


def checklist():
    """The sh blocks of install.md's production checklist, in order,
    unindented from their list items."""
    text = open(os.path.join(stack.ROOT, "docs", "install.md")).read()
    m = re.search(r"<!-- production-checklist -->(.*?)<!-- /production-checklist -->", text, re.S)
    check(m is not None, "install.md has its production checklist")
    out = []
    for b in re.finditer(r"^( *)```sh\n(.*?)^\1```", m.group(1), re.S | re.M):
        indent = len(b.group(1))
        out.append("".join(line[indent:] for line in b.group(2).splitlines(True)))
    return out


def test_the_production_checklist_runs_as_written():
    """install.md's production checklist, steps 0 to 7 as printed, on this
    host as root: the built package installed (step 1's apt-get, as dpkg
    here: the host has no repository for it), then steps 2 to 7 in one
    shell with the test's values for step 0 (its own database on the
    stack's MariaDB) and a systemctl that logs. After it: secrets out of
    the config and root's alone, threads sized to this host's CPUs,
    creditctl reading the runtime password where creditd's unit reads it,
    the schema current, keys made, the socket enabled; and the installed
    creditd, as its unit runs it, serving."""
    check("deb" in BUILT, "the package was built by the test before")
    check(not os.path.exists("/etc/default/creditd"), "no /etc/default/creditd before the test")
    blocks = checklist()
    eq(len(blocks), 8, "steps 0 to 7 have a block each")
    names = sorted(re.findall(r"(\w+)=", blocks[0]))
    eq(names, sorted(["DB", "DB_SOCKET", "DB_OWNER", "DB_USER", "OWNER_PW", "RUNTIME_PW", "STRIPE_SECRET_KEY",
                      "STRIPE_WEBHOOK_SECRET"]), "step 0's values")
    eq(blocks[1].strip(), "apt-get install -y ./creditd_*_amd64.deb", "step 1 installs the package")
    work = tempfile.mkdtemp(prefix="checklist.", dir=BUILT["work"])
    shims, log = make_shims(work)
    had_user = user_exists("creditd")
    db, owner, runtime = "creditd_chk", "creditd_chk_owner", "creditd_chk_rt"
    values = ("DB=%s DB_SOCKET=%s DB_OWNER=%s DB_USER=%s\nOWNER_PW=owner-0123456789abcdef RUNTIME_PW=rt-0123456789abcdef\n"
              "STRIPE_SECRET_KEY=sk_test_checklist STRIPE_WEBHOOK_SECRET=whsec_checklist0123456789abcdef0123456789\n"
              % (db, os.path.join(ENV["CREDITD_STACK_DIR"], "mysql.sock"), owner, runtime))
    try:
        p = dpkg(["-i", BUILT["deb"]], shims)
        eq(p.returncode, 0, "step 1: %s" % (p.stdout + p.stderr)[-2000:])
        script = values + "".join(blocks[2:])
        p = subprocess.run(["bash", "-e", "-c", script], capture_output=True, text=True, timeout=600,
                           env=host_env(shims))
        eq(p.returncode, 0, "steps 2 to 7: %s%s" % (p.stdout[-2000:], p.stderr[-3000:]))
        check("raise MariaDB's max_connections" not in p.stdout, "the stack's MariaDB takes the threads")
        eq(len(re.findall(r"crd_[0-9a-f]{64}", p.stdout)), 2, "two keys printed")
        eq(run(["stat", "-c", "%U:%G %a", "/etc/default/creditd"]).stdout.strip(), "root:creditd 640",
           "the secrets: root writes them, creditd's units and creditctl read them")
        eq(run(["stat", "-c", "%U %a", "/etc/creditd/migrate.pw"]).stdout.strip(), "root 600", "the owner's: root's")
        conf = open("/etc/creditd/creditd.conf").read()
        check("password = \n" in conf or re.search(r"(?m)^password =\s*$", conf), "no password in the config")
        want = max(64, os.cpu_count() * 8 + 16)
        check(re.search(r"(?m)^threads = %d$" % want, conf), "threads sized to %d CPUs: %d" % (os.cpu_count(), want))
        p = subprocess.run(["runuser", "-u", "creditd", "--", "/usr/bin/creditctl", "verify"], capture_output=True,
                           text=True, timeout=120, env=host_env())
        eq(p.returncode, 0, "creditctl as creditd (the reconcile timer's) reads the secrets too: %s" % p.stderr)
        calls = open(log).read()
        check("systemctl enable --now creditd.socket" in calls, "step 7 enables and starts the socket: %r" % calls)
        eq(sql("SELECT COUNT(*) FROM %s.schema_migrations" % db),
           [[str(len([f for f in os.listdir(os.path.join(stack.ROOT, "sql")) if f.endswith(".sql")]))]],
           "every migration applied")
        # creditd as its unit runs it: its user, the unit's environment file.
        env = dict(line.split("=", 1) for line in open("/etc/default/creditd").read().splitlines() if "=" in line)
        sock_dir = tempfile.mkdtemp(prefix="checklist-sock.")  # where the creditd user may create it
        os.chmod(sock_dir, 0o777)
        sock = os.path.join(sock_dir, "creditd.sock")
        d = subprocess.Popen(["runuser", "-u", "creditd", "--", "env"] + ["%s=%s" % kv for kv in env.items()] +
                             ["/usr/bin/creditd", "--listen", "unix:" + sock, "--threads", "2"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=host_env())
        try:
            from lib import wait_until
            check(wait_until(lambda: os.path.exists(sock) or d.poll() is not None, timeout=15), "creditd listens")
            check(d.poll() is None, "creditd runs: %s" % (d.stderr.read() if d.poll() is not None else ""))
            logf = "/var/log/creditd/creditd.log"
            check(wait_until(lambda: os.path.exists(logf) and "listening on unix:" in open(logf).read(), timeout=15),
                  "its log says it listens")
        finally:
            d.terminate()
            d.wait(30)
    finally:
        undo_install(shims, had_user, db, owner, runtime)
