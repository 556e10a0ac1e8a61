"""test_61_bodies.py: request bodies creditd will not wait for.

A body over the cap is answered 413 at once, through nginx, through
Apache (its LimitRequestBody, in JSON) and straight on creditd's FastCGI
socket, where creditd stops reading it; the connections the web servers
reuse keep working. A body trickled slower than the deadline
(LIMIT_BODY_READ_SECONDS, 10 s) is answered 408 and its worker is free
again. Apache answers JSON when creditd is down."""
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import urllib.parse

import stack
from lib import ENV, Fail, api, check, eq, wait_until

DEADLINE_S = 10          # LIMIT_BODY_READ_SECONDS
TEN_MIB = 10 * 1024 * 1024


# ---- HTTP with a body the server may refuse before it has all of it ----

def _http_big_post(base, path, size):
    """POSTs size bytes of JSON-ish filler to base+path from a thread (the
    server may stop reading) and reads the answer. Returns (status,
    headers, body bytes, seconds)."""
    u = urllib.parse.urlsplit(base)
    s = socket.create_connection((u.hostname, u.port), timeout=30)
    head = ("POST %s%s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
            "Connection: close\r\n\r\n" % (u.path.rstrip("/"), path, u.netloc, size)).encode()
    t0 = time.time()

    def send():
        try:
            s.sendall(head)
            chunk = b" " * 65536
            left = size
            while left > 0:
                n = s.send(chunk[:min(left, len(chunk))])
                left -= n
        except OSError:
            pass
    th = threading.Thread(target=send, daemon=True)
    th.start()
    data = b""
    try:
        while True:
            got = s.recv(65536)
            if not got:
                break
            data += got
            if b"\r\n\r\n" in data:
                hdr, _, rest = data.partition(b"\r\n\r\n")
                length = [int(line.split(b":")[1]) for line in hdr.split(b"\r\n")
                          if line.lower().startswith(b"content-length:")]
                if length and len(rest) >= length[0]:
                    break
    except OSError:
        pass
    secs = time.time() - t0
    s.close()
    hdr, _, body = data.partition(b"\r\n\r\n")
    lines = hdr.decode("latin-1").split("\r\n")
    check(lines and lines[0].startswith("HTTP/1."), "an HTTP answer: %r" % data[:200])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    if headers.get("transfer-encoding") == "chunked":
        out, rest = b"", body
        while rest:
            n, _, rest = rest.partition(b"\r\n")
            n = int(n, 16)
            if n == 0:
                break
            out, rest = out + rest[:n], rest[n + 2:]
        body = out
    return int(lines[0].split()[1]), headers, body, secs


def _check_413(status, headers, body, secs, where):
    eq(status, 413, "%s: 413" % where)
    check(headers.get("content-type", "").startswith("application/json"), "%s: JSON: %r" % (where, headers))
    eq(json.loads(body)["error"]["code"], "payload_too_large", "%s: the error code" % where)
    check(secs < 5, "%s: answered in %.1f s" % (where, secs))


def test_ten_mib_through_nginx_is_413_json_and_nginx_keeps_serving():
    _check_413(*_http_big_post(ENV["CREDITD_URL"], "/v1/accounts", TEN_MIB), where="nginx")
    eq(api("GET", "/healthz", auth=None).status, 200, "nginx serves on")


def test_ten_mib_through_apache_is_413_json_and_apache_keeps_serving():
    _check_413(*_http_big_post(ENV["CREDITD_APACHE_URL"], "/v1/accounts", TEN_MIB), where="Apache")
    eq(api("GET", "/healthz", auth=None, base=ENV["CREDITD_APACHE_URL"]).status, 200, "Apache serves on")


def test_bodies_over_the_cap_do_not_spoil_reused_connections():
    # nginx passes up to 2 MiB: creditd answers 413 itself, and the pooled
    # FastCGI connection (fastcgi_keep_conn) serves the next requests.
    # Apache refuses over 64 KiB itself; bodies just under the cap reach
    # creditd on its reused (enablereuse) connections.
    for i in range(6):
        status, headers, body, secs = _http_big_post(ENV["CREDITD_URL"], "/v1/accounts", 1024 * 1024)
        eq(status, 413, "1 MiB through nginx, round %d" % i)
        check("larger than 65536 bytes" in json.loads(body)["error"]["message"], "creditd's own 413: %r" % body)
        for base in (ENV["CREDITD_URL"], ENV["CREDITD_APACHE_URL"]):
            for _ in range(4):
                eq(api("GET", "/v1/models", auth="read", base=base).status, 200, "then on %s" % base)
        big = b'{"id": "x", "kind": "user", "pad": "' + b"p" * 60000 + b'"}'
        r = api("POST", "/v1/accounts", raw=big, base=ENV["CREDITD_APACHE_URL"])
        eq(r.status, 400, "a 60 KB body through Apache is read and judged: %r" % r.json)


# ---- FastCGI straight to creditd ----

def _record(rtype, content, request_id=1):
    return struct.pack("!BBHHBB", 1, rtype, request_id, len(content), 0, 0) + content


def _pair(name, value):
    def length(n):
        return struct.pack("!B", n) if n < 128 else struct.pack("!I", n | 0x80000000)
    name, value = name.encode(), value.encode()
    return length(len(name)) + length(len(value)) + name + value


def _fcgi_head(method, uri, content_length, keep=False):
    params = b"".join(_pair(k, v) for k, v in (
        ("REQUEST_METHOD", method), ("REQUEST_URI", uri), ("DOCUMENT_URI", uri), ("QUERY_STRING", ""),
        ("CONTENT_TYPE", "application/json"), ("CONTENT_LENGTH", str(content_length)),
        ("SERVER_PROTOCOL", "HTTP/1.1"), ("GATEWAY_INTERFACE", "CGI/1.1")))
    begin = struct.pack("!HB5x", 1, 1 if keep else 0)
    return _record(1, begin) + _record(4, params) + _record(4, b"")


def _fcgi_read(s, timeout):
    """Reads records until END_REQUEST or timeout; returns (stdout bytes,
    ended)."""
    s.settimeout(timeout)
    buf, out = b"", b""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            got = s.recv(65536)
        except socket.timeout:
            break
        except OSError:
            break
        if not got:
            break
        buf += got
        while len(buf) >= 8:
            _, rtype, _, clen, plen, _ = struct.unpack("!BBHHBB", buf[:8])
            if len(buf) < 8 + clen + plen:
                break
            content, buf = buf[8:8 + clen], buf[8 + clen + plen:]
            if rtype == 6:
                out += content
            elif rtype == 3:
                return out, True
    return out, False


def _status(out):
    for line in out.split(b"\r\n\r\n")[0].split(b"\r\n"):
        if line.lower().startswith(b"status:"):
            return int(line.split()[1])
    return 0


def test_creditd_stops_reading_a_body_at_the_cap():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(stack.path("creditd.sock"))
    sent = [0]
    t0 = time.time()

    def send():
        try:
            s.sendall(_fcgi_head("POST", "/v1/accounts", TEN_MIB))
            chunk = b" " * 65535
            while sent[0] < TEN_MIB:
                n = min(len(chunk), TEN_MIB - sent[0])
                s.sendall(_record(5, chunk[:n]))
                sent[0] += n
            s.sendall(_record(5, b""))
        except OSError:
            pass
    th = threading.Thread(target=send, daemon=True)
    th.start()
    out, ended = _fcgi_read(s, 10)
    secs = time.time() - t0
    th.join(10)
    s.close()
    check(ended, "an answer: %r" % out[:300])
    eq(_status(out), 413, "413 straight from creditd")
    check(secs < 5, "answered in %.1f s" % secs)
    check(sent[0] < 8 * 1024 * 1024, "creditd stopped reading: %d of %d bytes were taken" % (sent[0], TEN_MIB))
    eq(stack.health(), 200, "creditd serves on")


class Private:
    """A creditd of our own with one worker thread, on the stack's config
    and database."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="creditd-t61-", dir=ENV["CREDITD_STACK_DIR"])
        self.sock = os.path.join(self.dir, "c.sock")
        self.out = open(os.path.join(self.dir, "out"), "w")
        env = dict(os.environ, CREDITD_THREADS="1", CREDITD_LOG="stderr", CREDITD_BASE_PATH="/")
        self.proc = subprocess.Popen([os.path.join(stack.ROOT, "creditd"), "-c", ENV["CREDITD_CONFIG"],
                                      "--listen", "unix:" + self.sock], stdin=subprocess.DEVNULL, stdout=self.out,
                                     stderr=self.out, env=env, start_new_session=True)
        if not wait_until(lambda: os.path.exists(self.sock) or self.proc.poll() is not None, 10) or \
                self.proc.poll() is not None:
            self.close()
            raise Fail("private creditd did not start")

    def healthz(self, timeout):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.sock)
        s.sendall(_fcgi_head("GET", "/healthz", 0) + _record(5, b""))
        out, ended = _fcgi_read(s, timeout)
        s.close()
        return _status(out) if ended else None

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self.out.close()
        if os.environ.get("KEEP_TMP") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)


def test_a_slow_body_is_cut_at_the_deadline_and_the_worker_is_free_again():
    c = Private()
    try:
        eq(c.healthz(10), 200, "the one worker answers")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(c.sock)
        body = b'{"id": "slow", "kind": "user"}' + b" " * 200
        # One STDIN record whose content is trickled a byte every 0.3 s,
        # as a web server streams a slow client's body.
        s.sendall(_fcgi_head("POST", "/v1/accounts", len(body)) + struct.pack("!BBHHBB", 1, 5, 1, len(body), 0, 0))
        stop = threading.Event()

        def trickle():
            for b in body:
                if stop.wait(0.3):
                    return
                try:
                    s.sendall(bytes([b]))
                except OSError:
                    return
        th = threading.Thread(target=trickle, daemon=True)
        t0 = time.time()
        th.start()
        out, ended = _fcgi_read(s, DEADLINE_S + 8)
        secs = time.time() - t0
        stop.set()
        th.join(5)
        check(ended, "no answer to a trickled body within %d s" % (DEADLINE_S + 8))
        eq(_status(out), 408, "408 at the deadline: %r" % out[:300])
        check(b'"request_timeout"' in out, "the error code: %r" % out[-200:])
        check(DEADLINE_S - 1 <= secs <= DEADLINE_S + 4, "cut at the deadline: %.1f s" % secs)
        s.settimeout(3)
        try:
            closed = s.recv(1) == b""
        except OSError:
            closed = True
        check(closed, "the connection is closed (its body was not read to the end)")
        s.close()
        t1 = time.time()
        eq(c.healthz(5), 200, "the worker is free again")
        check(time.time() - t1 < 2, "at once")
    finally:
        c.close()


def _stalled_apache(sock_dir, lua):
    """An Apache of its own with the shipped creditd-proxy-fcgi.conf in
    front of a socket that accepts nobody (creditd stopped or hung: its
    connections wait in the backlog), ProxyTimeout 2 s; mod_lua loaded or
    not. Returns (process, base URL, dir)."""
    from lib import free_port
    d = tempfile.mkdtemp(dir=sock_dir)
    os.chmod(d, 0o755)
    errors = os.path.join(d, "errors")
    shutil.copytree(os.path.join(stack.ROOT, "apache", "errors"), errors)
    for f in os.listdir(errors):
        os.chmod(os.path.join(errors, f), 0o644)
    os.chmod(errors, 0o755)
    sock = os.path.join(d, "stall.sock")
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(sock)
    os.chmod(sock, 0o777)
    srv.listen(64)
    port, mods = free_port(), "/usr/lib/apache2/modules"
    os.makedirs(os.path.join(d, "run"))
    loads = ["mpm_event", "authz_core", "authz_host", "proxy", "proxy_fcgi", "alias", "headers"] + (["lua"] if lua else [])
    conf = os.path.join(d, "apache.conf")
    with open(conf, "w") as f:
        f.write("ServerRoot %s\nServerName 127.0.0.1\nListen 127.0.0.1:%d\nPidFile %s/apache.pid\n"
                "DefaultRuntimeDir %s/run\nMutex file:%s/run default\nErrorLog %s/error.log\n" % (d, port, d, d, d, d))
        f.writelines("LoadModule %s_module %s/mod_%s.so\n" % (m, mods, m) for m in loads)
        f.write("User www-data\nGroup www-data\nProxyTimeout 2\nDefine CREDITD_SOCKET %s\n"
                "Define CREDITD_ERRORS_DIR %s\nInclude %s/apache/creditd-proxy-fcgi.conf\n" % (sock, errors, stack.ROOT))
    p = subprocess.Popen(["apache2", "-f", conf, "-DFOREGROUND"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    p.listener = srv

    def up():
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            return False
    check(wait_until(up, timeout=10), "the Apache of its own is up (%s/error.log)" % d)
    return p, "http://127.0.0.1:%d/credits" % port, d


def test_apache_answers_503_when_creditd_does_not_answer_in_time():
    """creditd stopped or hung (its socket there, nobody answering): Apache
    times out (504), answered 503 `unavailable` with Retry-After by the
    shipped config's unavailable.lua, as nginx answers it and as Apache
    answers creditd not running; without mod_lua the 504 keeps its status,
    with the same JSON code (which the clients retry)."""
    sock_dir = stack.path()
    if os.path.exists(stack.path("sock_dir")):
        with open(stack.path("sock_dir")) as f:
            sock_dir = f.read().strip()
    for lua, status in ((True, 503), (False, 504)):
        p, base, d = _stalled_apache(sock_dir, lua)
        try:
            # (by hand, not lib.api: these answers are the web server's,
            # not creditd's API, which test_99 holds to its spec)
            import http.client
            t0 = time.time()
            u = urllib.parse.urlsplit(base)
            c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
            c.request("GET", u.path + "/v1/models")
            r = c.getresponse()
            body, headers = r.read(), {k.lower(): v for k, v in r.getheaders()}
            c.close()
            eq(r.status, status, "mod_lua %s: %r" % ("loaded" if lua else "absent", body[:200]))
            check(time.time() - t0 < 8, "after the proxy's timeout")
            check(headers.get("content-type", "").startswith("application/json"), "JSON: %r" % headers)
            err = json.loads(body)["error"]
            eq((err["code"], err["type"]), ("unavailable", "api_error"), "creditd's shape")
            if lua:
                eq(headers.get("retry-after"), "2", "Retry-After")
        finally:
            p.terminate()
            p.wait(10)
            p.listener.close()
            shutil.rmtree(d, ignore_errors=True)


def test_apache_answers_json_when_creditd_is_down():
    sock_dir = stack.path()
    if os.path.exists(stack.path("sock_dir")):
        with open(stack.path("sock_dir")) as f:
            sock_dir = f.read().strip()
    sock = os.path.join(sock_dir, "creditd-apache.sock")
    pid = stack.pid_of("creditd-apache")
    os.killpg(pid, signal.SIGKILL)
    wait_until(lambda: not stack.alive(pid), 5)
    if os.path.exists(sock):
        os.unlink(sock)
    try:
        r = api("GET", "/v1/models", auth="read", base=ENV["CREDITD_APACHE_URL"])
        eq(r.status, 503, "creditd down behind Apache")
        check(r.headers.get("content-type", "").startswith("application/json"), "JSON: %r" % r.headers)
        eq(r.json["error"]["code"], "unavailable", "the error code")
        eq(r.json["error"]["type"], "api_error", "the error type")
        eq(r.headers.get("retry-after"), "2", "Retry-After")
    finally:
        stack.start("creditd-apache", [os.path.join(stack.ROOT, "creditd"), "-c", ENV["CREDITD_CONFIG"], "--listen",
                                       "unix:" + sock], env={"CREDITD_BASE_PATH": "/credits"})
        check(wait_until(lambda: stack.health(ENV["CREDITD_APACHE_URL"]) == 200, timeout=15), "creditd-apache is back")
