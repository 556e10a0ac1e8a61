"""test_04b_database_tls.py: TLS to MariaDB, [database] tls, ca_file,
cert_file and key_file (docs/configuration.md, "TLS to MariaDB").

The stack's MariaDB is left alone: the test makes a CA, a server
certificate for 127.0.0.1 and localhost and a client certificate with
openssl, a second CA that signed nothing, and starts a MariaDB of its own
on a free loopback TCP port with the server's certificate and
require_secure_transport = ON; its runtime user must present a client
certificate (REQUIRE X509). Then, over TCP to 127.0.0.1:
- creditctl migrate (as the schema's owner), price import and key create
  with tls = verify and the right CA; creditctl verify finds nothing;
- creditd with tls = verify and the right CA answers /healthz 200 and a
  guard authorize;
- with the other CA, /healthz stays 503 and the log names database.tls
  and database.ca_file; creditctl fails naming them;
- verify refuses a certificate that does not name the host (the server
  listens on 127.0.0.2 too); with no ca_file it verifies against
  OpenSSL's default store (the system's CAs; SSL_CERT_FILE names the
  test's CA for that);
- tls = required without a CA connects (a guard authorize);
- tls = off is refused by the server (MariaDB 10.11 answers "access
  denied"), and the log adds that with database.tls = off a server that
  requires TLS refuses so; the same with no tls for 127.0.0.1 (the
  default is off for a loopback host);
- `creditd -t` refuses a ca_file that does not exist and a key_file
  others may read, naming the key.
"""
import json
import os
import re
import shutil
import subprocess

import stack
from lib import ENV, Fail, check, eq, free_port, wait_until

ROOT = os.path.dirname(ENV["CREDITCTL"])
CREDITD = os.path.join(ROOT, "creditd")
OWNER_PASSWORD = "owner-tls-test-pw"
RUNTIME_PASSWORD = "runtime-tls-test-pw"


def _dir(*parts):
    return os.path.join(ENV["CREDITD_STACK_DIR"], "dbtls", *parts)


def _openssl(*args):
    p = subprocess.run(["openssl"] + list(args), capture_output=True, text=True, timeout=60, cwd=_dir())
    check(p.returncode == 0, "openssl %s: %s" % (" ".join(args), p.stderr[-800:]))


def make_certificates():
    """ca.pem (signed server.pem and client.pem), other-ca.pem (signed
    nothing), each key beside its certificate, 0600."""
    for ca in ("ca", "other-ca"):
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca + ".key", "-out", ca + ".pem",
                 "-days", "2", "-subj", "/CN=creditd test %s" % ca)
    with open(_dir("server.ext"), "w") as f:
        f.write("subjectAltName = IP:127.0.0.1, DNS:localhost\n")
    with open(_dir("client.ext"), "w") as f:
        f.write("extendedKeyUsage = clientAuth\n")
    for who in ("server", "client"):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", who + ".key", "-out", who + ".csr",
                 "-subj", "/CN=creditd test %s" % who)
        _openssl("x509", "-req", "-in", who + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", who + ".pem", "-days", "2", "-extfile", who + ".ext")
    for f in os.listdir(_dir()):
        if f.endswith(".key"):
            os.chmod(_dir(f), 0o600)


class Server:
    """A private mariadbd with TLS required, on a free loopback port."""

    def __init__(self):
        self.port = free_port()
        self.sock = _dir("mysql.sock")
        self.cnf = _dir("my.cnf")
        with open(self.cnf, "w") as f:
            f.write("[mysqld]\ndatadir=%s\ntmpdir=%s\nsocket=%s\npid-file=%s\nlog-error=%s\nport=%d\n"
                    "bind-address=127.0.0.1,127.0.0.2\nskip-name-resolve\nuser=root\ninnodb_buffer_pool_size=64M\n"
                    "ssl_ca=%s\nssl_cert=%s\nssl_key=%s\nrequire_secure_transport=ON\n"
                    "[client]\nsocket=%s\nuser=root\n"
                    % (_dir("db"), _dir("db-tmp"), self.sock, _dir("mysql.pid"), _dir("mysql.err"), self.port, _dir("ca.pem"),
                       _dir("server.pem"), _dir("server.key"), self.sock))
        # Its temp tables in a dir of its own (devtools/stack.sh's mariadb_start says why).
        os.makedirs(_dir("db-tmp"), exist_ok=True)
        p = subprocess.run(["mariadb-install-db", "--no-defaults", "--datadir=" + _dir("db"), "--user=root",
                            "--auth-root-authentication-method=socket", "--skip-test-db"],
                           capture_output=True, text=True, timeout=60, env=dict(os.environ, TMPDIR=_dir("db-tmp")))
        check(p.returncode == 0, "mariadb-install-db: %s" % p.stdout[-500:] + p.stderr[-500:])
        self.proc = stack.start("dbtls_mariadb", ["mariadbd", "--defaults-file=" + self.cnf])
        up = wait_until(lambda: subprocess.run(["mariadb-admin", "--defaults-file=" + self.cnf, "ping"],
                                               capture_output=True).returncode == 0, timeout=30, step=0.1)
        if not up:
            with open(_dir("mysql.err")) as f:
                raise Fail("mariadbd did not start: %s" % f.read()[-1500:])

    def sql(self, statement):
        p = subprocess.run(["mariadb", "--defaults-file=" + self.cnf, "-N", "-B"], input=statement,
                           capture_output=True, text=True, timeout=60)
        check(p.returncode == 0, "%s\n%s" % (statement, p.stderr[-1500:]))
        return p.stdout

    def stop(self):
        subprocess.run(["mariadb-admin", "--defaults-file=" + self.cnf, "shutdown"], capture_output=True,
                       timeout=60)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        stack.forget("dbtls_mariadb")


def write_config(name, tls=None, ca=None, client=True, mode=0o600, extra="", user="creditd", host="127.0.0.1"):
    """A creditd.conf for the private server over TCP, with these TLS
    keys (None: not written); its path."""
    path = _dir(name + ".conf")
    lines = ["[server]", "log = %s" % _dir(name + ".log"), "sweep_interval_seconds = 3600",
             "[database]", "host = " + host, "port = %d" % STATE["server"].port, "name = creditd",
             "user = " + user, "password = " + RUNTIME_PASSWORD, "migrate_user = creditd_owner",
             "migrate_password = " + OWNER_PASSWORD]
    if tls is not None:
        lines.append("tls = " + tls)
    if ca is not None:
        lines.append("ca_file = " + ca)
    if client:
        lines += ["cert_file = " + _dir("client.pem"), "key_file = " + _dir("client.key")]
    text = "\n".join(lines) + "\n" + extra
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def ctl(conf, *args, env=None):
    env = dict({k: v for k, v in os.environ.items() if not k.startswith("CREDITD_")}, **(env or {}))
    return subprocess.run([ENV["CREDITCTL"], "-c", conf] + list(args), capture_output=True, text=True,
                          timeout=120, env=env)


class Creditd:
    """A creditd on conf, spoken to over FastCGI (cgi-fcgi) on a socket."""

    def __init__(self, conf):
        self.conf = conf
        self.sock = conf[:-5] + ".sock"
        self.log = conf[:-5] + ".log"
        self.name = "dbtls_" + os.path.basename(conf)[:-5]
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITD_")}
        self.proc = subprocess.Popen([CREDITD, "-c", conf, "--listen", "unix:" + self.sock],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(conf[:-5] + ".err", "w"), start_new_session=True, env=env)
        stack.record(self.name, self.proc.pid)
        check(wait_until(lambda: os.path.exists(self.sock) or self.proc.poll() is not None, timeout=10),
              "creditd listening")
        check(self.proc.poll() is None, "creditd exited %s" % self.proc.returncode)

    def call(self, method, path, body=None, key=None):
        data = json.dumps(body).encode() if body is not None else b""
        env = {"PATH": os.environ["PATH"], "REQUEST_METHOD": method, "REQUEST_URI": path, "QUERY_STRING": "",
               "CONTENT_LENGTH": str(len(data)), "CONTENT_TYPE": "application/json",
               "SERVER_PROTOCOL": "HTTP/1.1", "GATEWAY_INTERFACE": "CGI/1.1", "REMOTE_ADDR": "127.0.0.1"}
        if key:
            env["HTTP_AUTHORIZATION"] = "Bearer " + key
        p = subprocess.run(["cgi-fcgi", "-bind", "-connect", self.sock], input=data, env=env, capture_output=True,
                           timeout=30)
        head, _, payload = p.stdout.partition(b"\r\n\r\n")
        m = re.search(rb"Status: (\d+)", head)
        check(m is not None, "%s %s: no answer (%r)" % (method, path, p.stdout[:200] + p.stderr[:200]))
        return int(m.group(1)), json.loads(payload) if payload else None

    def health(self):
        return self.call("GET", "/healthz")[0]

    def log_text(self):
        with open(self.log) as f:
            return f.read()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(15)
        stack.forget(self.name)


STATE = {}


def setup():
    """The certificates, the server, its users and the schema (once)."""
    if "server" in STATE:
        return STATE
    shutil.rmtree(_dir(), ignore_errors=True)
    os.makedirs(_dir())
    make_certificates()
    STATE["server"] = srv = Server()
    srv.sql("CREATE DATABASE creditd;\n"
            "CREATE USER 'creditd_owner'@'%%' IDENTIFIED BY '%s';\n"
            "GRANT ALL ON creditd.* TO 'creditd_owner'@'%%';\n"
            "CREATE USER 'creditd'@'%%' IDENTIFIED BY '%s' REQUIRE X509;\n"
            "GRANT SELECT, INSERT, UPDATE, DELETE, EXECUTE ON creditd.* TO 'creditd'@'%%';\n"
            "CREATE USER 'creditd_plain'@'%%' IDENTIFIED BY '%s';\n"
            "GRANT SELECT, INSERT, UPDATE, DELETE, EXECUTE ON creditd.* TO 'creditd_plain'@'%%';\n"
            % (OWNER_PASSWORD, RUNTIME_PASSWORD, RUNTIME_PASSWORD))
    conf = write_config("verify", tls="verify", ca=_dir("ca.pem"))
    p = ctl(conf, "migrate", "--sql-dir", os.path.join(ROOT, "sql"))
    check(p.returncode == 0, "creditctl migrate over verified TLS: %s" % p.stderr[-1500:])
    p = ctl(conf, "price", "import", os.path.join(ROOT, "etc", "prices.csv"))
    check(p.returncode == 0, "creditctl price import: %s" % p.stderr[-800:])
    STATE["admin"] = ctl(conf, "key", "create", "--scope", "admin").stdout.strip().splitlines()[-1]
    STATE["guard"] = ctl(conf, "key", "create", "--scope", "guard").stdout.strip().splitlines()[-1]
    return STATE


def authorize(cd, account, request_id):
    st, out = cd.call("POST", "/v1/guard/authorize", {"account": account, "model": "gpt-4o", "input_tokens": 100,
                                                       "max_output_tokens": 100, "request_id": request_id},
                      key=STATE["guard"])
    eq(st, 200, "guard authorize: %s" % out)
    check(out["hold_id"], "a hold: %s" % out)


def test_creditd_and_creditctl_verify_the_server_with_the_right_ca():
    setup()
    conf = write_config("verify", tls="verify", ca=_dir("ca.pem"))
    p = ctl(conf, "verify")
    eq(p.returncode, 0, "creditctl verify over verified TLS: %s %s" % (p.stdout[-500:], p.stderr[-500:]))
    cd = Creditd(conf)
    try:
        check(wait_until(lambda: cd.health() == 200, timeout=10), "/healthz 200: %s" % cd.log_text()[-1500:])
        st, out = cd.call("POST", "/v1/accounts", {"id": "tls-alice", "kind": "user"}, key=STATE["admin"])
        check(st in (200, 201), "account: %d %s" % (st, out))
        st, out = cd.call("POST", "/v1/accounts/tls-alice/grants", {"amount_micros": 5000000, "source": "promo"},
                          key=STATE["admin"])
        check(st in (200, 201), "grant: %d %s" % (st, out))
        authorize(cd, "tls-alice", "tls-verify-1")
    finally:
        cd.stop()
    # The server saw creditd's connections encrypted, with the client's certificate.
    ciphers = STATE["server"].sql("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
                                  "WHERE VARIABLE_NAME = 'SSL_ACCEPTS'").strip()
    check(int(ciphers) > 0, "TLS handshakes accepted: %s" % ciphers)


def test_a_wrong_ca_is_refused_naming_the_setting():
    setup()
    conf = write_config("wrongca", tls="verify", ca=_dir("other-ca.pem"))
    cd = Creditd(conf)
    try:
        check(wait_until(lambda: "database.ca_file" in cd.log_text(), timeout=10),
              "the log names database.ca_file: %s" % cd.log_text()[-1500:])
        eq(cd.health(), 503, "/healthz with a wrong CA")
        log = cd.log_text()
        check("database.tls = verify" in log and _dir("other-ca.pem") in log,
              "the log names the setting and the file: %s" % log[-1500:])
        st, out = cd.call("POST", "/v1/guard/authorize", {"account": "tls-alice", "model": "gpt-4o",
                                                          "input_tokens": 10, "request_id": "tls-wrong-1"},
                          key=STATE["guard"])
        eq(st, 503, "no authorize without the database: %s" % out)
        print("  the log: " + [line for line in log.splitlines() if "database.ca_file" in line][0])
    finally:
        cd.stop()
    p = ctl(conf, "verify")
    check(p.returncode != 0, "creditctl verify with a wrong CA fails: %s" % p.stdout)
    check("database.tls = verify" in p.stderr and "database.ca_file" in p.stderr,
          "creditctl names the setting: %s" % p.stderr)


def test_verify_checks_the_name_and_takes_the_system_cas_without_a_ca_file():
    setup()
    # The server listens on 127.0.0.2 too, which its certificate does not name.
    conf = write_config("othername", tls="verify", ca=_dir("ca.pem"), host="127.0.0.2")
    p = ctl(conf, "verify")
    check(p.returncode != 0 and "database.tls = verify" in p.stderr and "name 127.0.0.2" in p.stderr,
          "a certificate for another name refused: %s" % p.stderr)
    # No ca_file: OpenSSL's default store (SSL_CERT_FILE stands for the system's CAs here).
    conf = write_config("systemca", tls="verify")
    p = ctl(conf, "verify")
    check(p.returncode != 0 and "the system's CAs (database.ca_file is empty)" in p.stderr,
          "the test CA is not a system CA: %s" % p.stderr)
    p = ctl(conf, "verify", env={"SSL_CERT_FILE": _dir("ca.pem")})
    eq(p.returncode, 0, "verified against the default store: %s" % p.stderr[-500:])


def test_required_encrypts_without_a_ca():
    setup()
    conf = write_config("required", tls="required")
    cd = Creditd(conf)
    try:
        check(wait_until(lambda: cd.health() == 200, timeout=10), "/healthz 200: %s" % cd.log_text()[-1500:])
        authorize(cd, "tls-alice", "tls-required-1")
    finally:
        cd.stop()
    p = ctl(conf, "verify")
    eq(p.returncode, 0, "creditctl verify with tls = required: %s" % p.stderr[-500:])
    # With a ca_file, required checks the chain but not the name.
    p = ctl(write_config("required-other", tls="required", ca=_dir("other-ca.pem")), "verify")
    check(p.returncode != 0 and "database.tls = required" in p.stderr, "another CA's chain refused: %s" % p.stderr)
    p = ctl(write_config("required-name", tls="required", ca=_dir("ca.pem"), host="127.0.0.2"), "verify")
    eq(p.returncode, 0, "a certificate for another name passes required: %s" % p.stderr[-500:])


def test_off_to_a_server_that_requires_tls_fails_clearly():
    setup()
    for name, tls in (("off", "off"), ("default", None)):
        # The default for 127.0.0.1 is off (a loopback host).
        # A user with no client certificate required: the server's
        # require_secure_transport is what refuses it.
        conf = write_config(name, tls=tls, client=False, user="creditd_plain")
        cd = Creditd(conf)
        try:
            check(wait_until(lambda: "database.tls = off" in cd.log_text(), timeout=10),
                  "%s: the log says database.tls = off: %s" % (name, cd.log_text()[-1500:]))
            eq(cd.health(), 503, "/healthz with tls off")
            check("requires TLS" in cd.log_text() and "require_secure_transport" in cd.log_text(), "and why: %s" % cd.log_text()[-800:])
            print("  the log: " + [line for line in cd.log_text().splitlines() if "tls = off" in line][0])
        finally:
            cd.stop()
        p = ctl(conf, "verify")
        check(p.returncode != 0 and "database.tls = off" in p.stderr, "creditctl too: %s" % p.stderr)


def test_check_config_refuses_missing_and_open_files():
    setup()
    conf = write_config("missing", tls="verify", ca=_dir("nope.pem"))
    p = subprocess.run([CREDITD, "-c", conf, "-t"], capture_output=True, text=True, timeout=10)
    eq(p.returncode, 2, "-t on a missing ca_file: %s" % p.stdout)
    check("database.ca_file" in p.stderr and "nope.pem" in p.stderr, "naming it: %s" % p.stderr)
    shutil.copy(_dir("client.key"), _dir("open.key"))
    os.chmod(_dir("open.key"), 0o644)
    conf = write_config("openkey", tls="verify", ca=_dir("ca.pem"), client=False,
                        extra="cert_file = %s\nkey_file = %s\n" % (_dir("client.pem"), _dir("open.key")))
    p = subprocess.run([CREDITD, "-c", conf, "-t"], capture_output=True, text=True, timeout=10)
    eq(p.returncode, 2, "-t on a key_file others may read: %s" % p.stdout)
    check("database.key_file" in p.stderr and "readable by others" in p.stderr, "naming it: %s" % p.stderr)
    p = ctl(conf, "verify")
    check(p.returncode != 0 and "database.key_file" in p.stderr, "creditctl refuses it too: %s" % p.stderr)
    p = subprocess.run([CREDITD, "-c", write_config("good", tls="verify", ca=_dir("ca.pem")), "-t"],
                       capture_output=True, text=True, timeout=10)
    eq(p.returncode, 0, "-t on good files: %s" % p.stderr)


def teardown_module():
    if "server" in STATE:
        STATE.pop("server").stop()
