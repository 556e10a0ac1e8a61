"""test_61b_upload_bodies.py: the gateway's upload routes take larger
bodies, kept on disk (docs/gateway.md, "Request bodies").

audio/transcriptions and images/edits take up to 25 MiB; every other
gateway route keeps [gateway] max_body_bytes (8 MiB). A body past 8 MiB on
an upload route is read to a nameless file and reaches the route (which
answers 401 to these keyless requests: the body was read whole), never 413; past
25 MiB it is 413, answered on its Content-Length before creditd reads it;
a chunked one is counted as it arrives. Through nginx and Apache as the
shipped snippets set them up (nginx/creditd-gateway-upload.conf,
apache/creditd-proxy-fcgi.conf), and straight on creditd's socket.
creditd's memory does not grow by the body's size, and no file is left."""
import json
import os
import socket
import threading
import time
import urllib.parse

import stack
from lib import ENV, check, eq
from test_61_bodies import _fcgi_read, _pair, _record, _status

MIB = 1024 * 1024
TRANSCRIPTIONS = "/openai/v1/audio/transcriptions"
EDITS = "/openai/v1/images/edits"
CHAT = "/openai/v1/chat/completions"
BOUNDARY = "----creditd-test-61b"


def _multipart_head(size):
    """The start of a multipart body whose whole length is size."""
    return ('--%s\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n--%s\r\n'
            'Content-Disposition: form-data; name="file"; filename="a.wav"\r\nContent-Type: audio/wav\r\n\r\n'
            % (BOUNDARY, BOUNDARY)).encode()


def _post(base, path, size, chunked=False, ctype=None):
    """POSTs size bytes to base+path from a thread (the server may stop
    reading), with Content-Length or chunked. Returns (status, body bytes,
    seconds, bytes the server took)."""
    u = urllib.parse.urlsplit(base)
    s = socket.create_connection((u.hostname, u.port), timeout=60)
    ctype = ctype or "multipart/form-data; boundary=" + BOUNDARY
    length = "Transfer-Encoding: chunked" if chunked else "Content-Length: %d" % size
    head = ("POST %s%s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\n%s\r\nConnection: close\r\n\r\n"
            % (u.path.rstrip("/"), path, u.netloc, ctype, length)).encode()
    sent = [0]
    t0 = time.time()

    def send():
        try:
            s.sendall(head)
            first = _multipart_head(size)
            chunk = b"\x00\x01audio" * 6553
            while sent[0] < size:
                piece = (first if sent[0] == 0 else chunk)[:size - sent[0]]
                s.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                sent[0] += len(piece)
            if chunked:
                s.sendall(b"0\r\n\r\n")
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
    except OSError:
        pass
    secs = time.time() - t0
    s.close()
    th.join(30)
    hdr, _, body = data.partition(b"\r\n\r\n")
    check(hdr.startswith(b"HTTP/1."), "an HTTP answer: %r" % data[:200])
    if b"transfer-encoding: chunked" in hdr.lower():
        out, rest = b"", body
        while rest:
            n, _, rest = rest.partition(b"\r\n")
            n = int(n, 16)
            if n == 0:
                break
            out, rest = out + rest[:n], rest[n + 2:]
        body = out
    return int(hdr.split()[1]), body, secs, sent[0]


def _memory(pid):
    with open("/proc/%d/status" % pid) as f:
        rows = dict(line.split(":", 1) for line in f if ":" in line)
    return {k: int(rows[k].split()[0]) for k in ("VmRSS", "VmHWM", "RssAnon", "RssFile")}


def _spooled_files(pid):
    """creditd's descriptors on files that have no name any more (its
    spooled bodies: O_TMPFILE's show as "/dir/#N (deleted)")."""
    out = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if target.endswith("(deleted)"):
            out.append(target)
    return out


def _openai_error(body, where):
    doc = json.loads(body)
    check("error" in doc and "type" in doc["error"], "%s: OpenAI's error shape: %r" % (where, body[:300]))
    return doc["error"]


def test_twenty_mib_to_transcriptions_through_nginx_reaches_the_route_lookup_on_disk():
    pid = stack.pid_of("creditd")
    before = _memory(pid)
    status, body, secs, _ = _post(ENV["CREDITD_URL"], TRANSCRIPTIONS, 20 * MIB)
    after = _memory(pid)
    print("creditd (nginx's) memory, KiB, before and after a 20 MiB body: %r -> %r" % (before, after))
    eq(status, 401, "20 MiB to audio/transcriptions through nginx: read to disk, then the route's key check (not 413)")
    check("API key" in _openai_error(body, "nginx")["message"], "the route's 401: %r" % body)
    check(after["VmHWM"] - before["VmHWM"] < 4 * 1024,
          "creditd's peak RSS did not grow by the body (+%d KiB)" % (after["VmHWM"] - before["VmHWM"]))
    check(after["VmRSS"] - before["VmRSS"] < 4 * 1024,
          "nor its RSS (+%d KiB)" % (after["VmRSS"] - before["VmRSS"]))
    eq(_spooled_files(pid), [], "the body's file is gone")


def test_twenty_mib_to_transcriptions_through_apache_with_a_length_and_chunked():
    pid = stack.pid_of("creditd-apache")
    before = _memory(pid)
    for chunked in (False, True):
        status, body, secs, _ = _post(ENV["CREDITD_APACHE_URL"], TRANSCRIPTIONS, 20 * MIB, chunked=chunked)
        eq(status, 401, "20 MiB to audio/transcriptions through Apache (chunked: %s): on disk, not 413: %r"
           % (chunked, body[:300]))
        check("API key" in _openai_error(body, "Apache")["message"], "the route's 401: %r" % body)
    after = _memory(pid)
    print("creditd (Apache's) memory, KiB, before and after two 20 MiB bodies: %r -> %r" % (before, after))
    # A chunked body (no length) goes to disk from its first byte too.
    check(after["VmHWM"] - before["VmHWM"] < 4 * 1024,
          "creditd's peak RSS did not grow by the bodies (+%d KiB)" % (after["VmHWM"] - before["VmHWM"]))
    eq(_spooled_files(pid), [], "the bodies' files are gone")


def test_images_edits_takes_the_larger_body_too():
    status, body, _, _ = _post(ENV["CREDITD_URL"], EDITS, 12 * MIB)
    eq(status, 401, "12 MiB to images/edits through nginx: the route's key check, not 413")


def test_past_twenty_five_mib_is_413_before_creditd_reads_it():
    for base, where in ((ENV["CREDITD_URL"], "nginx"), (ENV["CREDITD_APACHE_URL"], "Apache")):
        status, body, secs, _ = _post(base, TRANSCRIPTIONS, 26 * MIB)
        eq(status, 413, "26 MiB to audio/transcriptions through %s" % where)
        check(secs < 10, "%s: answered in %.1f s" % (where, secs))
    # Straight on creditd's socket: its Content-Length is over, so creditd
    # answers before it reads a byte of the body.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(stack.path("creditd.sock"))
    size, sent = 30 * MIB, [0]

    def send():
        try:
            s.sendall(_fcgi_head(TRANSCRIPTIONS, size))
            chunk = b"a" * 65535
            while sent[0] < size:
                s.sendall(_record(5, chunk))
                sent[0] += len(chunk)
        except OSError:
            pass
    th = threading.Thread(target=send, daemon=True)
    th.start()
    out, ended = _fcgi_read(s, 10)
    th.join(10)
    s.close()
    check(ended, "an answer: %r" % out[:300])
    eq(_status(out), 413, "413 straight from creditd")
    check(b"larger than 26214400 bytes" in out, "creditd names the route's limit: %r" % out[-300:])
    check(sent[0] < 8 * MIB, "creditd did not read the body: %d of %d bytes were taken" % (sent[0], size))
    eq(stack.health(), 200, "creditd serves on")


def test_past_twenty_five_mib_without_a_length_is_cut_by_creditd():
    # Through Apache, which streams a chunked body on: creditd answers
    # 413 at 25 MiB and closes the connection after a short drain, and
    # Apache, still sending, answers its own 503 instead (its error log:
    # "Broken pipe ... sending stdin"). Refused either way, nothing left.
    status, body, secs, sent = _post(ENV["CREDITD_APACHE_URL"], TRANSCRIPTIONS, 40 * MIB, chunked=True)
    check(status in (413, 503), "40 MiB chunked to audio/transcriptions through Apache is refused: %d %r"
          % (status, body[:300]))
    eq(_spooled_files(stack.pid_of("creditd-apache")), [], "its file is gone")
    # Straight on the socket with no Content-Length (as Apache passes a
    # chunked body): counted as it arrives, on disk.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(stack.path("creditd.sock"))
    size, taken = 40 * MIB, [0]

    def send():
        try:
            s.sendall(_fcgi_head(TRANSCRIPTIONS, None))
            chunk = b"a" * 65535
            while taken[0] < size:
                s.sendall(_record(5, chunk))
                taken[0] += len(chunk)
        except OSError:
            pass
    th = threading.Thread(target=send, daemon=True)
    th.start()
    out, ended = _fcgi_read(s, 15)
    th.join(10)
    s.close()
    check(ended, "an answer: %r" % out[:300])
    eq(_status(out), 413, "413 straight from creditd")
    check(b"larger than 26214400 bytes" in out, "creditd's own 413, the route's limit: %r" % out[-300:])
    check(taken[0] < 32 * MIB, "reading stopped near the limit: %d MiB taken" % (taken[0] // MIB))
    eq(_spooled_files(stack.pid_of("creditd")), [], "its file is gone")


def test_an_upload_path_without_a_body_is_looked_up_as_any_other():
    # No Content-Length and no body: kept on disk as a body of unknown
    # length, empty, and the request goes on to the route lookup.
    for base in (ENV["CREDITD_URL"], ENV["CREDITD_APACHE_URL"]):
        u = urllib.parse.urlsplit(base)
        s = socket.create_connection((u.hostname, u.port), timeout=10)
        s.sendall(("GET %s%s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                   % (u.path.rstrip("/"), TRANSCRIPTIONS, u.netloc)).encode())
        data = b""
        while True:
            got = s.recv(65536)
            if not got:
                break
            data += got
        s.close()
        eq(int(data.split()[1]), 405, "GET %s: the route's answer (POST only): %r" % (base, data[:300]))


def test_apache_passes_gateway_bodies_past_the_guard_routes_limit():
    # The guard's routes take 64 KiB; the gateway's 8 MiB: a 100 KB chat
    # body reaches creditd (401 without a key), not Apache's 413.
    status, body, _, _ = _post(ENV["CREDITD_APACHE_URL"], CHAT, 100000, ctype="application/json")
    eq(status, 401, "100 KB to chat/completions through Apache reaches creditd: %r" % body[:300])
    status, body, _, _ = _post(ENV["CREDITD_APACHE_URL"], "/v1/accounts", 100000, ctype="application/json")
    eq(status, 413, "100 KB to /v1/accounts through Apache is still 413")


def test_other_gateway_routes_keep_the_common_limit():
    for base, where in ((ENV["CREDITD_URL"], "nginx"), (ENV["CREDITD_APACHE_URL"], "Apache")):
        status, body, _, _ = _post(base, CHAT, 9 * MIB, ctype="application/json")
        eq(status, 413, "9 MiB to chat/completions through %s is still 413" % where)
    # Straight on the socket, so that no web server's limit answers first.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(stack.path("creditd.sock"))
    s.sendall(_fcgi_head(CHAT, 9 * MIB) + _record(5, b"a" * 1000) + _record(5, b""))
    out, ended = _fcgi_read(s, 10)
    s.close()
    eq(_status(out), 413, "9 MiB to chat/completions straight to creditd: 413, unread")
    check(b"larger than 8388608 bytes" in out, "the common limit named: %r" % out[-300:])


def _fcgi_head(uri, content_length):
    """A request's BEGIN and PARAMS records; content_length None: no
    CONTENT_LENGTH (a chunked body, as Apache passes it)."""
    pairs = [("REQUEST_METHOD", "POST"), ("REQUEST_URI", uri), ("DOCUMENT_URI", uri), ("QUERY_STRING", ""),
             ("CONTENT_TYPE", "multipart/form-data; boundary=" + BOUNDARY),
             ("SERVER_PROTOCOL", "HTTP/1.1"), ("GATEWAY_INTERFACE", "CGI/1.1")]
    if content_length is not None:
        pairs.append(("CONTENT_LENGTH", str(content_length)))
    params = b"".join(_pair(k, v) for k, v in pairs)
    return _record(1, b"\x00\x01\x00\x00\x00\x00\x00\x00") + _record(4, params) + _record(4, b"")
