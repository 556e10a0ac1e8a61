"""stack.py: process control of the private stack, for the tests that stop
and start its servers (test_90_resilience, test_05_fcgid and the chaos
scenarios).

./dev records every server it starts in the stack's `pids` file (name and
pid, each in its own session); a scenario that kills and restarts one
records the new pid there, so `./dev stop` and the check's exit trap still
stop everything, also after a failure.
"""
import os
import shutil
import signal
import subprocess
import time

from lib import ENV, api, sql, wait_until

ROOT = os.path.dirname(ENV["CREDITCTL"])


def path(*parts):
    return os.path.join(ENV["CREDITD_STACK_DIR"], *parts)


def pids():
    with open(path("pids")) as f:
        return [line.split() for line in f if line.strip()]


def _write_pids(rows):
    tmp = path("pids.tmp")
    with open(tmp, "w") as f:
        f.write("".join("%s %s\n" % (n, p) for n, p in rows))
    os.replace(tmp, path("pids"))


def record(name, pid):
    _write_pids([r for r in pids() if r[0] != name] + [[name, str(pid)]])


def forget(name):
    """Drops name from the pids file once the test has stopped it itself."""
    _write_pids([r for r in pids() if r[0] != name])


def pid_of(name):
    for n, p in pids():
        if n == name:
            return int(p)
    raise AssertionError("no pid recorded for " + name)


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is not alive: read its state.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def start(name, argv, env=None):
    out = open(path(name + ".out"), "a")
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
                         env=dict(os.environ, **(env or {})))
    out.close()
    record(name, p.pid)
    return p


def health(base=None):
    """The status of GET /healthz, or None when nothing answered."""
    try:
        return api("GET", "/healthz", auth=None, base=base).status
    except OSError:
        return None


def creditd_pid():
    return pid_of("creditd")


def creditd_kill9():
    pid = creditd_pid()
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return pid      # killed already (by the test itself)
    for _ in range(200):
        if not alive(pid):
            break
        time.sleep(0.01)
    return pid


def creditd_start(config=None, env=None):
    """Starts the nginx-side creditd again (with another config file or
    more environment when given) and waits for it to answer."""
    sock = path("creditd.sock")
    start("creditd", [os.path.join(ROOT, "creditd"), "-c", config or ENV["CREDITD_CONFIG"], "--listen",
                      "unix:" + sock], env=dict({"CREDITD_BASE_PATH": "/"}, **(env or {})))
    if not wait_until(lambda: health() == 200, timeout=15):
        raise AssertionError("creditd did not come back")


def mariadbd_pid():
    with open(path("mysql.pid")) as f:
        return int(f.read().strip())


def mariadbd_start():
    start("mariadbd", ["mariadbd", "--defaults-file=" + path("my.cnf")])
    ok = wait_until(lambda: subprocess.run(["mariadb-admin", "--defaults-file=" + path("my.cnf"), "ping"],
                                           capture_output=True).returncode == 0, timeout=60, step=0.1)
    if not ok:
        raise AssertionError("mariadbd did not restart")


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def fds_apart_from_fastcgi(pid, sock_path):
    """(all open fds, fds that are not FastCGI connections on sock_path).
    The web server opens and closes FastCGI connections with its load, so
    their number is no sign of a leak; everything else should stay flat.
    An accepted unix socket is listed in /proc/net/unix under the path of
    the socket it was accepted on."""
    def fcgi_inodes():
        found = set()
        with open("/proc/net/unix") as f:
            next(f)
            for line in f:
                cols = line.split()
                if len(cols) >= 8 and cols[7] == sock_path:
                    found.add(cols[6])
        return found

    # The table is read before and after the fds, so a connection accepted
    # or closed while they are listed is still recognised.
    fcgi = fcgi_inodes()
    targets = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            targets.append(os.readlink("/proc/%d/fd/%s" % (pid, fd)))
        except OSError:
            continue
    fcgi |= fcgi_inodes()
    other = sum(1 for t in targets if not (t.startswith("socket:[") and t[8:-1] in fcgi))
    return len(targets), other


def hold_rows(hold_ids):
    """{hold_id: [state, charged_micros]} for the API's hold ids (their
    numbers read back with the database's key), in a few queries."""
    import lib
    out = {}
    ids = list(hold_ids)
    for i in range(0, len(ids), 2000):
        parts = lib.hold_parts_many(ids[i:i + 2000])
        by_id = {str(hold): (h, str(acct)) for h, (acct, hold) in parts.items()}
        if not by_id:
            continue
        rows = sql("SELECT id, account_id, state, charged_micros FROM holds WHERE id IN (%s)" % ",".join(by_id))
        for hid, aid, state, charged in rows:
            h, acct = by_id.get(hid, (None, None))
            if h is not None and acct == aid:
                out[h] = [state, charged]
    return out


def tree_copy(dest):
    """The source tree as a fresh clone has it, copied to dest: git's files,
    or (not a git checkout: ./dev sanitize's copy) the whole tree, less
    what a build or a run left, cleaned."""
    p = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    files = [f for f in p.stdout.split("\0") if f]
    if files:
        os.makedirs(dest)
        p = subprocess.run(["cp", "--parents", "-t", dest] + files, cwd=ROOT, capture_output=True, text=True,
                           timeout=300)
        if p.returncode != 0:
            raise AssertionError("copy of the tree: %s" % p.stderr)
        return
    shutil.copytree(ROOT, dest, symlinks=True, ignore=shutil.ignore_patterns(
        ".dev", "node_modules", "output", "__pycache__", ".git", "*.o", "*.a"))
    subprocess.run(["make", "distclean"], cwd=dest, capture_output=True, timeout=300)
