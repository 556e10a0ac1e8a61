"""test_06_systemd.py: creditd under systemd, without PID 1.
systemd-socket-activate (from the systemd package) owns the listening
socket, as creditd.socket does, and starts creditd on the first request
with LISTEN_FDS/LISTEN_PID; creditd takes that socket and tells
$NOTIFY_SOCKET READY=1 once it serves (Type=notify), STOPPING=1 when it
stops. The shipped units are checked with systemd-analyze verify."""
import os
import shutil
import signal
import socket
import subprocess
import time

import stack
from lib import ENV, api, check, eq, wait_until

SOCKET_ACTIVATE = shutil.which("systemd-socket-activate") or "/usr/bin/systemd-socket-activate"


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
    proc = subprocess.Popen([SOCKET_ACTIVATE, "-l", sock] + passed +
                            [os.path.join(stack.ROOT, "creditd"), "-c", ENV["CREDITD_CONFIG"]],
                            stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env, start_new_session=True)
    stack.record("creditd", proc.pid)
    try:
        check(wait_until(lambda: os.path.exists(sock), timeout=10), "the activator listens")
        os.chmod(sock, 0o666)     # as SocketMode= would, for nginx's workers
        eq(api("GET", "/healthz", auth=None).status, 200, "the first request starts creditd on the passed socket")
        msgs = []
        while not any("READY=1" in m for m in msgs):
            msgs.append(notify.recv(4096).decode())
        eq(api("GET", "/v1/models", auth="read").status, 200, "an API call on the activated socket")
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


def test_without_a_socket_creditd_says_so():
    p = subprocess.run([os.path.join(stack.ROOT, "creditd"), "-c", ENV["CREDITD_CONFIG"]],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10,
                       env=dict(os.environ, LISTEN_PID="1", LISTEN_FDS="1"))
    check(p.returncode != 0 and "not socket-activated" in p.stderr, "another process's LISTEN_PID is not ours: %r"
          % p.stderr)


def test_the_units_verify():
    analyze = shutil.which("systemd-analyze")
    check(analyze is not None, "systemd-analyze is missing")
    d = stack.path("units")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(stack.ROOT, "systemd", "creditd.service.in")) as f:
        text = f.read().replace("@bindir@", os.path.dirname(os.path.join(stack.ROOT, "creditd"))
                                ).replace("@sysconfdir@", "/etc")
    with open(os.path.join(d, "creditd.service"), "w") as f:
        f.write(text.replace(os.path.join(stack.ROOT, "creditd"), os.path.join(stack.ROOT, "creditd")))
    shutil.copy(os.path.join(stack.ROOT, "systemd", "creditd.socket"), d)
    p = subprocess.run([analyze, "verify", os.path.join(d, "creditd.socket"), os.path.join(d, "creditd.service")],
                       capture_output=True, text=True, timeout=60)
    problems = [line for line in (p.stdout + p.stderr).splitlines()
                if line.strip() and "Cannot find unit" not in line and "creditd.conf" not in line
                and "Command 'man " not in line
                and "user" not in line.lower() and "running in chroot" not in line.lower()]
    eq(problems, [], "systemd-analyze verify: %s" % (p.stdout + p.stderr))
    time.sleep(0)
