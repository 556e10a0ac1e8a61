"""test_97_demo_packages.py: ./dev demo installs what the demo runs, and
not the suite's tools. `dev` keeps two lists: DEMO_PACKAGES (what
cmd_demo installs) and CHECK_PACKAGES (the suite's: the demo's and the
rest). Held here:
- every program the running stack runs (the stack the demo starts: each
  process of its pids file), every library creditd is linked with and
  the build's tools and the CA certificates (the gateway may reach the
  real providers over TLS) come from a package that DEMO_PACKAGES brings
  in (the packages, with what they depend on, as apt resolves them:
  recommends are not installed);
- none of the suite's tools (a browser, Prometheus, a load generator,
  PHP and its test tools, Node, the Debian packaging tools) does;
- cmd_demo installs DEMO_PACKAGES, and CHECK_PACKAGES holds them all."""
import os
import re
import subprocess

import stack
from lib import check, eq

# (galera-4 and rsync are not here: Debian's mariadb-server depends on both.)
SUITE_ONLY = ("chromium-headless-shell", "prometheus", "wrk", "phpunit", "composer", "lintian", "debhelper", "mypy", "php-fpm",
              "php-cli", "libapache2-mod-fcgid", "spawn-fcgi", "python3-stripe", "nodejs", "logrotate")


def dev_list(name):
    text = open(os.path.join(stack.ROOT, "dev")).read()
    block = re.search(r"^(DEMO_PACKAGES=.*?)^PACKAGES=", text, re.S | re.M)
    check(block is not None, "dev has DEMO_PACKAGES and CHECK_PACKAGES")
    p = subprocess.run(["bash", "-c", block.group(1) + '\necho $' + name], capture_output=True, text=True, timeout=30)
    eq(p.returncode, 0, "the lists read: %s" % p.stderr)
    return p.stdout.split()


def closure(packages):
    """The packages with every package they depend on (Depends and
    PreDepends, recursively), as apt-cache resolves them."""
    p = subprocess.run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
                        "--no-breaks", "--no-replaces", "--no-enhances"] + packages,
                       capture_output=True, text=True, timeout=300)
    eq(p.returncode, 0, "apt-cache depends: %s" % p.stderr[-500:])
    names = set()
    for line in p.stdout.splitlines():
        if line and not line.startswith(" "):
            names.add(line.strip().strip("<>").split(":")[0])
        elif "Depends:" in line:
            names.add(line.split(":", 1)[1].strip().strip("<>").split(":")[0])
    return names


def package_of(path):
    path = os.path.realpath(path)
    for candidate in (path, path.replace("/usr/", "/", 1)):
        p = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True, timeout=30)
        if p.returncode == 0:
            return p.stdout.split(":")[0].split(",")[0].strip()
    return None


def stack_programs():
    exes = set()
    for _name, pid in stack.pids():
        try:
            exes.add(os.readlink("/proc/%s/exe" % pid))
        except OSError:
            pass
    return exes


def test_the_demo_installs_what_it_runs_and_no_test_tool():
    demo, full = dev_list("DEMO_PACKAGES"), dev_list("CHECK_PACKAGES")
    check(len(demo) >= 5, "a demo list: %r" % demo)
    eq([p for p in demo if p not in full], [], "CHECK_PACKAGES holds the demo's")
    body = re.search(r"^cmd_demo\(\) \{\n(.*?)^\}", open(os.path.join(stack.ROOT, "dev")).read(), re.S | re.M).group(1)
    check(re.search(r"^\tPACKAGES=\$DEMO_PACKAGES deps$", body, re.M), "cmd_demo installs DEMO_PACKAGES")
    brought = closure(demo)
    eq(sorted(p for p in SUITE_ONLY if p in brought), [], "no test tool comes with the demo")
    needed = {}
    exes = stack_programs()
    check(any(e.endswith("/mariadbd") for e in exes) and any(e.endswith("/nginx") for e in exes),
          "the stack's programs are read: %r" % sorted(exes))
    for exe in exes:
        if exe.startswith(stack.ROOT):
            continue    # creditd, as built
        needed[exe] = package_of(exe)
    ldd = subprocess.run(["ldd", os.path.join(stack.ROOT, "creditd")], capture_output=True, text=True).stdout
    for lib in re.findall(r"=> (/\S+)", ldd):
        needed[lib] = package_of(lib)
    for tool in ("gcc", "make", "autoreconf", "libtoolize", "pkg-config", "curl", "apache2", "mariadb",
                 "mariadb-install-db", "mariadb-admin", "nginx"):
        p = subprocess.run(["bash", "-c", "command -v " + tool], capture_output=True, text=True)
        eq(p.returncode, 0, "%s is on PATH" % tool)
        needed[p.stdout.strip()] = package_of(p.stdout.strip())
    # The demo may forward to the real providers (CREDITD_OPENAI_BASE_URL):
    # libcurl checks their certificates against the system's CA bundle,
    # which libcurl only recommends.
    needed["/etc/ssl/certs/ca-certificates.crt"] = "ca-certificates"
    missing = sorted("%s (%s)" % (path, pkg) for path, pkg in needed.items() if pkg not in brought)
    eq(missing, [], "every program and library the demo runs comes with DEMO_PACKAGES")


def test_the_demo_runs_what_an_install_builds():
    """./dev demo builds creditd as an install does (no test clock: its log
    says no "test build"), ./dev check as the tests need it (the test
    clock), whatever the tree was configured for before: dev's build
    function run in a scratch directory whose configure records how it was
    called."""
    import shutil
    import tempfile
    d = tempfile.mkdtemp(prefix="dev-build.", dir=stack.path())
    shutil.copy(os.path.join(stack.ROOT, "dev"), d)
    os.makedirs(os.path.join(d, "devtools"))
    for f in ("stack.sh", "galera.sh"):
        shutil.copy(os.path.join(stack.ROOT, "devtools", f), os.path.join(d, "devtools"))
    with open(os.path.join(d, "configure"), "w") as f:
        f.write('#!/bin/sh\necho "$*" >>configure.calls\necho "with $*" >config.status\ntouch Makefile\n')
    os.chmod(os.path.join(d, "configure"), 0o755)
    for f in ("configure.ac", "Makefile.am"):
        open(os.path.join(d, f), "w").close()
    os.utime(os.path.join(d, "configure"))
    with open(os.path.join(d, "make"), "w") as f:
        f.write("#!/bin/sh\nexit 0\n")
    os.chmod(os.path.join(d, "make"), 0o755)

    def build(flavour):
        p = subprocess.run(["bash", "-c", '. ./dev; build %s' % flavour], cwd=d, capture_output=True, text=True,
                           timeout=60, env=dict(os.environ, PATH=d + ":" + os.environ["PATH"]))
        eq(p.returncode, 0, "build %s: %s" % (flavour, p.stderr))
        calls = open(os.path.join(d, "configure.calls")).read().splitlines()
        return calls[-1] if calls else ""
    check("--enable-test-clock" in build("test"), "the tests' build has the test clock")
    check("--enable-test-clock" not in build("demo"), "the demo's has not, after a test build")
    check("--enable-test-clock" in build("test"), "and back")
    text = open(os.path.join(stack.ROOT, "dev")).read()
    demo = re.search(r"^cmd_demo\(\) \{\n(.*?)^\}", text, re.S | re.M).group(1)
    check("\tbuild demo\n" in demo, "cmd_demo builds the demo's flavour")
    for cmd in ("cmd_itest", "cmd_gtest"):
        body = re.search(r"^%s\(\) \{\n(.*?)^\}" % cmd, text, re.S | re.M).group(1)
        check("\ttest_binaries\n" in body, "%s runs the tests on a test build, not the demo's" % cmd)
