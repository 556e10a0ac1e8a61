"""smtp_sink.py: an SMTP server on loopback for the tests of alerts by
email (tests/integration/test_88_mail.py, every_writer_mail.py): Python's
standard library only, no mail leaves the machine."""
import email
import email.policy
import re
import socketserver
import threading
import time


class Sink:
    """An SMTP server on loopback speaking EHLO/HELO, MAIL, RCPT, DATA,
    RSET, NOOP and QUIT (no STARTTLS, no AUTH). Records every message
    taken and every one refused; `plan` maps a recipient to the replies to
    give its DATA in turn ("451" refuses once), then 250; `delay` slows
    each DATA reply (two senders at once overlap)."""

    def __init__(self):
        self.got = []          # (mail from, [rcpt], raw bytes, reply code)
        self.times = []        # when each of got came (time.time()), in its order
        self.sessions = 0      # SMTP sessions open now
        self.last = time.time()    # when a session last began or a message last came
        self.plan = {}
        self.delay = 0.0
        self.lock = threading.Lock()
        sink = self

        class H(socketserver.StreamRequestHandler):
            def say(self, line):
                self.wfile.write(line.encode() + b"\r\n")
                self.wfile.flush()

            def handle(self):
                sink.session(+1)
                try:
                    self.session()
                finally:
                    sink.session(-1)

            def session(self):
                self.say("220 sink.test ESMTP")
                frm, rcpt = None, []
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    cmd = line.decode("ascii", "replace").strip()
                    verb = cmd.split(" ", 1)[0].upper().split(":")[0]
                    if verb == "EHLO":
                        self.wfile.write(b"250-sink.test\r\n250-8BITMIME\r\n250 SIZE 10000000\r\n")
                        self.wfile.flush()
                    elif verb == "HELO" or verb == "NOOP":
                        self.say("250 ok")
                    elif verb == "MAIL":
                        frm, rcpt = re.search(r"<([^>]*)>", cmd).group(1), []
                        self.say("250 ok")
                    elif verb == "RCPT":
                        rcpt.append(re.search(r"<([^>]*)>", cmd).group(1))
                        self.say("250 ok")
                    elif verb == "RSET":
                        frm, rcpt = None, []
                        self.say("250 ok")
                    elif verb == "DATA":
                        self.say("354 go ahead")
                        self.data(frm, rcpt)
                    elif verb == "QUIT":
                        self.say("221 bye")
                        return
                    else:
                        self.say("502 not here")

            def data(self, frm, rcpt):
                lines = []
                while True:
                    line = self.rfile.readline()
                    if not line or line == b".\r\n":
                        break
                    lines.append(line[1:] if line.startswith(b"..") else line)
                raw = b"".join(lines)
                with sink.lock:
                    todo = sink.plan.get(rcpt[0] if rcpt else "", [])
                    code = int(todo.pop(0)) if todo else 250
                    sink.got.append((frm, list(rcpt), raw, code))
                    sink.last = time.time()
                    sink.times.append(sink.last)
                if sink.delay:
                    time.sleep(sink.delay)
                self.say("%d %s" % (code, "queued" if code == 250 else "try again later"))

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def session(self, n):
        with self.lock:
            self.sessions += n
            self.last = time.time()

    def quiet_for(self, seconds):
        """No session open and none begun nor message taken for seconds."""
        with self.lock:
            return self.sessions == 0 and time.time() - self.last >= seconds

    def to(self, addr, taken=True):
        """The messages for addr, parsed (only those taken: 250)."""
        with self.lock:
            raws = [g[2] for g in self.got if addr in g[1] and (g[3] == 250 or not taken)]
        return [parse(r) for r in raws]

    def raw_to(self, addr):
        with self.lock:
            return [(g[2], g[3]) for g in self.got if addr in g[1]]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def parse(raw):
    """raw as an RFC 5322 message (the email package's strict policy)."""
    return email.message_from_bytes(raw, policy=email.policy.strict)
