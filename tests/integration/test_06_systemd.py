"""test_06_systemd.py: creditd under systemd, without PID 1.
systemd-socket-activate (from the systemd package) owns the listening
socket, as creditd.socket does, and starts creditd on the first request
with LISTEN_FDS/LISTEN_PID; creditd takes that socket and tells
$NOTIFY_SOCKET READY=1 once it serves (Type=notify), STOPPING=1 when it
stops. The shipped units are checked with systemd-analyze verify, and
creditd.service's sandbox with systemd-analyze security --offline=true
--threshold=20 (an overall exposure of 2.0 at most).

The readiness test runs creditd inside the installed unit's sandbox as far
as a test can build it without systemd, the same whether or not systemd
is PID 1 (a transient unit would start creditd apart from the test stack).
Applied, read from the installed unit, to creditd alone (the activator
execs a wrapper that sets them up and execs creditd, so LISTEN_PID holds):
- SystemCallFilter= and SystemCallErrorNumber=: a seccomp allow-list
  built with libseccomp from systemd-analyze syscall-filter's own groups,
  as systemd builds it (the first allow-list adds @default, a `~` line
  removes its calls), native ABI only (SystemCallArchitectures=native),
  other calls failing with that errno;
- RestrictAddressFamilies=: socket(2) allowed for those families only;
- NoNewPrivileges=: set by libseccomp before the filter loads;
- PrivateMounts=: a mount namespace of creditd's own;
- ProtectProc=invisible, ProcSubset=pid: a procfs mounted with
  hidepid=invisible,subset=pid over /proc (creditd runs as root here, and
  root sees every process, so only subset=pid bites);
- ProtectSystem=strict, roughly: the root mount read-only, the stack's
  directory (config, log, sockets: LogsDirectory='s stand-in) and the
  sanitizers' report directory (./dev sanitize) writable; other mounts
  (/dev, /run, ...) are left as they are.
Not applied: User=/Group= (creditd runs as the test's user, root, and
keeps its capabilities: no CapabilityBoundingSet=), ProtectHome=,
PrivateTmp= (the stack lives in /tmp), PrivateDevices=, DeviceAllow=,
ProtectKernel*=, ProtectControlGroups=, ProtectClock=, ProtectHostname=,
RestrictNamespaces=, RestrictRealtime=, RestrictSUIDSGID=,
LockPersonality=, MemoryDenyWriteExecute=, RemoveIPC=, UMask=; these are
checked by systemd-analyze only."""
import errno
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys

import stack
from lib import ENV, api, check, eq, new_account, wait_until

SOCKET_ACTIVATE = shutil.which("systemd-socket-activate") or "/usr/bin/systemd-socket-activate"
ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"

# The sandbox, run by the activator in creditd's place: it sets up what
# the spec (argv[1], JSON) says and execs creditd in the same process.
# Mounts first (they need calls the filter denies), the filter last.
SANDBOX = r"""
import ctypes, json, os, sys
spec = json.loads(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]


def ok(rc, what):
    if rc != 0:
        sys.exit("sandbox: %s: %s" % (what, os.strerror(ctypes.get_errno() or -rc)))


MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 32, 4096, 16384, 1 << 18
ok(libc.unshare(0x00020000), "unshare(CLONE_NEWNS)")
ok(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "mounts made private")
ok(libc.mount(b"proc", b"/proc", b"proc", 0, spec["proc"].encode()), "procfs " + spec["proc"])
for path in spec["writable"]:
    ok(libc.mount(path.encode(), path.encode(), None, MS_BIND, None), "writable " + path)
ok(libc.mount(None, b"/", None, MS_REMOUNT | MS_BIND | MS_RDONLY, None), "read-only /")


class Cmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("a", ctypes.c_uint64), ("b", ctypes.c_uint64)]


sc = ctypes.CDLL("libseccomp.so.2")
sc.seccomp_init.restype = ctypes.c_void_p
sc.seccomp_init.argtypes = [ctypes.c_uint32]
sc.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
sc.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint, ctypes.c_void_p]
sc.seccomp_load.argtypes = [ctypes.c_void_p]
ALLOW, CMP_EQ = 0x7fff0000, 4
ctx = sc.seccomp_init(0x00050000 | spec["errno"] if spec["errno"] else 0x80000000)
for name in spec["allow"]:
    nr = sc.seccomp_syscall_resolve_name(name.encode())
    if nr < 0:
        continue        # not a call of this architecture
    if name == "socket" and spec["families"]:
        for family in spec["families"]:
            ok(sc.seccomp_rule_add_array(ctx, ALLOW, nr, 1, ctypes.byref(Cmp(0, CMP_EQ, family, 0))), name)
    else:
        ok(sc.seccomp_rule_add_array(ctx, ALLOW, nr, 0, None), name)
ok(sc.seccomp_load(ctx), "seccomp_load")       # sets no_new_privs first
os.execv(spec["argv"][0], spec["argv"])
"""


def installed_units():
    """The units as `make install` writes them (creditd from the tree), in
    a directory of the stack; the path of each."""
    d = stack.path("units")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(stack.ROOT, "systemd", "creditd.service.in")) as f:
        text = f.read().replace("@bindir@", stack.ROOT).replace("@sysconfdir@", "/etc")
    with open(os.path.join(d, "creditd.service"), "w") as f:
        f.write(text)
    shutil.copy(os.path.join(stack.ROOT, "systemd", "creditd.socket"), d)
    return os.path.join(d, "creditd.socket"), os.path.join(d, "creditd.service")


def unit_settings(unit, key):
    """Every value of KEY= in the [Service] section, in order."""
    with open(unit) as f:
        return [line.split("=", 1)[1].strip() for line in f if line.startswith(key + "=")]


def syscall_groups():
    """systemd-analyze's own syscall groups: name -> entries (calls and
    other groups), as the systemd installed here filters them."""
    out = subprocess.run([ANALYZE, "syscall-filter"], capture_output=True, text=True, timeout=60).stdout
    groups, current = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.strip(), [])
        elif current is not None and line.strip() and not line.strip().startswith("#"):
            current.append(line.strip())
    return groups


def expand(entries, groups):
    calls = set()
    for e in entries:
        calls |= expand(groups[e], groups) if e.startswith("@") else {e}
    return calls


def allowed_syscalls(unit):
    """The calls SystemCallFilter= lets through, as systemd reads it: the
    first line an allow-list (which adds @default), a `~` line taking its
    calls out again, an empty one starting over."""
    groups, allow = syscall_groups(), None
    for value in unit_settings(unit, "SystemCallFilter"):
        if value == "":
            allow = None
            continue
        deny = value.startswith("~")
        entries = value.lstrip("~").split()
        if allow is None:
            check(not deny, "SystemCallFilter= starts with an allow-list, not %r" % value)
            allow = expand(["@default"], groups)
        allow = allow - expand(entries, groups) if deny else allow | expand(entries, groups)
    check(allow is not None, "creditd.service has a SystemCallFilter=")
    return allow


def sandbox_spec(unit, argv):
    """What SANDBOX applies, read from the installed unit."""
    errno_name = (unit_settings(unit, "SystemCallErrorNumber") or [""])[-1]
    families = " ".join(unit_settings(unit, "RestrictAddressFamilies")).split()
    eq(unit_settings(unit, "NoNewPrivileges"), ["yes"], "NoNewPrivileges=yes (seccomp sets it too)")
    eq(unit_settings(unit, "PrivateMounts"), ["yes"], "PrivateMounts=yes")
    return {"allow": sorted(allowed_syscalls(unit)), "errno": getattr(errno, errno_name) if errno_name else 0,
            "families": [getattr(socket, f) for f in families],
            "proc": "hidepid=%s,subset=%s" % (unit_settings(unit, "ProtectProc")[-1],
                                              unit_settings(unit, "ProcSubset")[-1]),
            "writable": [stack.path()] + sanitizer_logs(), "argv": argv}


def sanitizer_logs():
    """The directories ./dev sanitize's reports go to: writable, or a
    report would be lost."""
    found = re.findall(r"log_path=([^:]+)", os.environ.get("ASAN_OPTIONS", "") + ":" +
                       os.environ.get("UBSAN_OPTIONS", ""))
    return sorted({os.path.dirname(p) for p in found if os.path.isdir(os.path.dirname(p))})


def sandboxed(pid):
    """What the kernel says of creditd's sandbox, seen from outside."""
    with open("/proc/%d/status" % pid) as f:
        status = dict(line.split(":", 1) for line in f)
    with open("/proc/%d/mountinfo" % pid) as f:
        mounts = [line.split() for line in f]
    root = [m for m in mounts if m[4] == "/"][-1]
    procfs = [m for m in mounts if m[4] == "/proc"][-1]
    return {"seccomp": status["Seccomp"].strip(), "no_new_privs": status["NoNewPrivs"].strip(),
            "root": root[5].split(",")[0], "proc": ",".join(o for o in procfs[-1].split(",") if o != "rw"),
            "proc/sys": os.path.exists("/proc/%d/root/proc/sys" % pid)}


def unix_listening(path):
    """Whether a unix socket at path listens (/proc/net/unix: the flag
    __SO_ACCEPTCON, 00010000)."""
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            parts = line.split()
            if len(parts) >= 8 and parts[7] == path and int(parts[3], 16) & 0x10000:
                return True
    return False


def test_socket_activation_and_readiness():
    check(os.path.exists(SOCKET_ACTIVATE), "systemd-socket-activate is missing (apt-get install systemd)")
    notify_path = stack.path("notify.sock")
    if os.path.exists(notify_path):
        os.unlink(notify_path)
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    notify.settimeout(15)
    sock = stack.path("creditd.sock")
    stack.creditd_kill9()
    if os.path.exists(sock):
        os.unlink(sock)
    env = dict(os.environ, CREDITD_BASE_PATH="/", NOTIFY_SOCKET=notify_path)
    out = open(stack.path("creditd-activated.out"), "w")
    # No --listen, no server.listen: the socket is systemd's.
    # The activator passes on only the variables named; the sanitizers'
    # options too when a sanitizer build runs (./dev sanitize).
    passed = ["-E", "CREDITD_BASE_PATH", "-E", "NOTIFY_SOCKET"]
    for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "CREDITD_TEST_CLOCK_FILE"):
        if var in os.environ:
            passed += ["-E", var]
    # creditd.service's sandbox, as far as SANDBOX builds it (the docstring).
    spec = sandbox_spec(installed_units()[1], [os.path.join(stack.ROOT, "creditd"), "-c", ENV["CREDITD_CONFIG"]])
    proc = subprocess.Popen([SOCKET_ACTIVATE, "-l", sock] + passed + [sys.executable, "-c", SANDBOX, json.dumps(spec)],
                            stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env, start_new_session=True)
    stack.record("creditd", proc.pid)
    try:
        # Listening, not only bound: a request between the activator's
        # bind and its listen is refused (nginx answers 503), on a loaded
        # machine now and then.
        check(wait_until(lambda: unix_listening(sock), timeout=10), "the activator listens")
        os.chmod(sock, 0o666)     # as SocketMode= would, for nginx's workers
        eq(api("GET", "/healthz", auth=None).status, 200, "the first request starts creditd on the passed socket")
        msgs = []
        while not any("READY=1" in m for m in msgs):
            msgs.append(notify.recv(4096).decode())
        eq(sandboxed(proc.pid), {"seccomp": "2", "no_new_privs": "1", "root": "ro",
                                 "proc": "hidepid=invisible,subset=pid", "proc/sys": False},
           "creditd runs in the unit's sandbox")
        eq(api("GET", "/v1/models", auth="read").status, 200, "an API call on the activated socket")
        acct = new_account()
        r = api("POST", "/v1/accounts/%s/topup" % acct, {"amount_cents": 500}, auth="app")
        eq(r.status, 200, "a top-up: MariaDB and an outbound call to Stripe from the sandbox: %r" % r)
        log = open(ENV["CREDITD_CONFIG"].replace("creditd.conf", "creditd.log")).read()
        check("the socket systemd passed" in log, "creditd says where it listens")
        os.kill(proc.pid, signal.SIGTERM)
        while not any("STOPPING=1" in m for m in msgs):
            msgs.append(notify.recv(4096).decode())
        eq(proc.wait(timeout=15), 0, "a clean stop")
    finally:
        notify.close()
        out.close()
        if proc.poll() is None:
            proc.kill()
        if os.path.exists(sock):
            os.unlink(sock)
        stack.creditd_start()


def test_a_listen_with_the_socket_unit_is_refused():
    """The config fought the unit: with [server] listen set, creditd
    ignored the socket systemd passed and bound (or unlinked) a path of its
    own, which ProtectSystem=strict makes read-only. Now a start that
    systemd passes a socket refuses a listen (exit 2, not restarted), -t
    warns of one under /run/creditd, and the shipped example leaves it
    empty, so a copied example serves the unit's socket."""
    conf = stack.path("listen-set.conf")
    with open(ENV["CREDITD_CONFIG"]) as f:
        text = f.read()
    with open(conf, "w") as f:
        f.write(re.sub(r"(?m)^\[server\]$", "[server]\nlisten = unix:%s" % stack.path("own.sock"), text, count=1))
    os.chmod(conf, 0o600)
    sock = stack.path("activated-refused.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    proc = subprocess.Popen([SOCKET_ACTIVATE, "-l", sock, os.path.join(stack.ROOT, "creditd"), "-c", conf],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        # Listening, not only bound: a request between the activator's
        # bind and its listen is refused (nginx answers 503), on a loaded
        # machine now and then.
        check(wait_until(lambda: unix_listening(sock), timeout=10), "the activator listens")
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(sock)         # the first connection starts creditd
        try:
            rc = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            rc = None
        c.close()
        out = proc.stdout.read().decode() if rc is not None else ""
        eq(rc, 2, "a listen with a passed socket exits 2: %r" % out)
        check("leave [server] listen empty" in out, "and says why: %r" % out)
        check(not os.path.exists(stack.path("own.sock")), "no socket of its own bound")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if os.path.exists(sock):
            os.unlink(sock)
    with open(conf, "w") as f:
        f.write(re.sub(r"(?m)^\[server\]$", "[server]\nlisten = unix:/run/creditd/creditd.sock", text, count=1))
    p = subprocess.run([os.path.join(stack.ROOT, "creditd"), "-c", conf, "-t"], capture_output=True, text=True,
                       timeout=30)
    check(p.returncode == 0 and "under creditd.service leave it empty" in p.stderr,
          "-t warns of a listen under /run/creditd: %r" % (p.stdout + p.stderr))
    example = open(os.path.join(stack.ROOT, "etc", "creditd.conf.example")).read()
    eq(re.findall(r"(?m)^listen *=.*$", example), ["listen ="], "the example leaves listen empty")


def test_without_a_socket_creditd_says_so():
    p = subprocess.run([os.path.join(stack.ROOT, "creditd"), "-c", ENV["CREDITD_CONFIG"]],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10,
                       env=dict(os.environ, LISTEN_PID="1", LISTEN_FDS="1"))
    check(p.returncode != 0 and "not socket-activated" in p.stderr, "another process's LISTEN_PID is not ours: %r"
          % p.stderr)


def test_the_units_verify():
    check(os.path.exists(ANALYZE), "systemd-analyze is missing")
    p = subprocess.run([ANALYZE, "verify"] + list(installed_units()), capture_output=True, text=True, timeout=60)
    problems = [line for line in (p.stdout + p.stderr).splitlines()
                if line.strip() and "Cannot find unit" not in line and "creditd.conf" not in line
                and "Command 'man " not in line
                and "user" not in line.lower() and "running in chroot" not in line.lower()]
    eq(problems, [], "systemd-analyze verify: %s" % (p.stdout + p.stderr))


def test_the_service_is_sandboxed():
    """An overall exposure of 2.0 at most (--threshold=20: exit 0), with the
    directives creditd was tried under above."""
    service = installed_units()[1]
    p = subprocess.run([ANALYZE, "security", "--offline=true", "--threshold=20", service], capture_output=True,
                       text=True, timeout=60)
    eq(p.returncode, 0, "systemd-analyze security --threshold=20: %s" % (p.stdout + p.stderr)[-3000:])
    level = re.search(r"Overall exposure level for creditd\.service: ([0-9.]+)", p.stdout)
    check(level is not None and float(level.group(1)) <= 2.0, "exposure 2.0 at most: %s" % p.stdout[-200:])
    for key, value in (("ProtectProc", "invisible"), ("ProcSubset", "pid"), ("PrivateMounts", "yes"),
                       ("RemoveIPC", "yes"), ("ProtectSystem", "strict"), ("SystemCallArchitectures", "native")):
        eq(unit_settings(service, key), [value], key + "=")
    eq(unit_settings(service, "SystemCallFilter")[0], "@system-service", "an allow-list of a service's calls")
    eq(unit_settings(service, "RestrictAddressFamilies"), ["AF_UNIX AF_INET AF_INET6"],
       "sockets: MariaDB's and the web server's unix sockets, TCP to MariaDB, Stripe and the notify URL")
    eq(unit_settings(service, "IPAddressDeny"), [], "no address deny-list: Stripe's addresses are not fixed")


def test_a_refused_config_is_not_restarted_in_a_loop():
    """creditd exits 2 on a config it refuses (as --check-config does): the
    unit restarts on failure, but not for that exit status, and exit 2 is
    what creditd gives for such a config."""
    service = open(installed_units()[1]).read()
    values = [line.split("=", 1)[1].strip() for line in service.splitlines()
              if line.startswith("RestartPreventExitStatus=")]
    eq(values, ["2"], "RestartPreventExitStatus=2 in creditd.service")
    check("Restart=on-failure" in service, "restarted on other failures")
    bad = os.path.join(ENV["CREDITD_STACK_DIR"], "refused.conf")
    with open(bad, "w") as f:
        f.write("[server]\nthreads = 0\n")
    os.chmod(bad, 0o600)
    p = subprocess.run([os.path.join(os.path.dirname(ENV["CREDITCTL"]), "creditd"), "-c", bad], capture_output=True,
                       text=True, timeout=30)
    eq(p.returncode, 2, "a refused config exits 2: %s" % p.stderr)
