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
import shutil
import subprocess
import tempfile

import stack
from lib import ENV, api, check, eq, new_account


def run(cmd, cwd=None, timeout=900):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def test_build_lintian_and_run_the_package():
    work = tempfile.mkdtemp(prefix="creditd-deb.", dir=stack.path())
    src = os.path.join(work, "src")
    files = [f for f in run(["git", "ls-files", "-z"], cwd=stack.ROOT).stdout.split("\0") if f]
    if files:
        os.makedirs(src)
        p = run(["cp", "--parents", "-t", src] + files, cwd=stack.ROOT)
        eq(p.returncode, 0, "copy of the tree: %s" % p.stderr)
    else:
        # Not a git checkout (./dev sanitize's copy): the whole tree, which
        # the package build cleans first.
        shutil.copytree(stack.ROOT, src, symlinks=True, ignore=shutil.ignore_patterns(
            ".dev", "node_modules", "output", "__pycache__", ".git"))
    p = run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, timeout=1200)
    eq(p.returncode, 0, "dpkg-buildpackage: %s" % (p.stdout + p.stderr)[-3000:])
    debs = [d for d in glob.glob(os.path.join(work, "creditd_*.deb"))]
    eq(len(debs), 1, "one creditd_*.deb: %r" % os.listdir(work))
    lint = run(["lintian", "--no-tag-display-limit", debs[0]])
    tags = [line for line in lint.stdout.splitlines() if line[:2] in ("E:", "W:")]
    eq(tags, [], "lintian: no error or warning")
    listing = run(["dpkg-deb", "-c", debs[0]]).stdout
    for path in ("./usr/bin/creditd", "./usr/bin/creditctl", "./usr/share/man/man8/creditd.8.gz",
                 "./usr/share/man/man8/creditctl.8.gz", "./usr/share/man/man5/creditd.conf.5.gz",
                 "./lib/systemd/system/creditd.service", "./lib/systemd/system/creditd.socket",
                 "./usr/share/creditd/nginx/creditd-fastcgi.conf", "./usr/share/creditd/apache/creditd-proxy-fcgi.conf",
                 "./usr/share/creditd/prometheus/creditd-alerts.yml", "./usr/share/creditd/grafana/creditd-dashboard.json",
                 "./etc/creditd/creditd.conf", "./etc/logrotate.d/creditd"):
        check(path in listing, "the package has %s" % path)
    for sql in sorted(os.listdir(os.path.join(stack.ROOT, "sql"))):
        check("./usr/share/creditd/sql/" + sql in listing, "every migration: %s" % sql)
    conffiles = run(["dpkg-deb", "-I", debs[0], "conffiles"]).stdout
    check("/etc/creditd/creditd.conf" in conffiles, "the config is a conffile")
    postinst = run(["dpkg-deb", "-I", debs[0], "postinst"]).stdout
    check("adduser --system" in postinst, "postinst makes the system user")
    check("chown root:creditd /etc/creditd/creditd.conf" in postinst and "chmod 0640 /etc/creditd/creditd.conf"
          in postinst, "postinst lets creditd, and only it, read the config")
    root = os.path.join(work, "root")
    eq(run(["dpkg-deb", "-x", debs[0], root]).returncode, 0, "unpacked")
    conf = open(os.path.join(root, "etc", "creditd", "creditd.conf")).read()
    check("\nlisten =\n" in conf, "the packaged config leaves the socket to systemd")
    # Shipped 0644 (lintian wants it), it sets no secret, so creditd takes
    # it as it is; postinst makes it root:creditd 0640 before one is added.
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
