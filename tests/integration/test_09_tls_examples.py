"""test_09_tls_examples.py: the shipped site examples load as written.

nginx/example-server.conf and apache/example-vhost.conf serve creditd on
TLS (keys travel as bearer tokens; Stripe sends webhooks to https only)
and send plain http to https. Each is checked by its own server's
configuration test (`nginx -t`, `apache2 -t`) as a reader installs it:
the snippets it includes from where the package puts them (here, the
tree's copies), and a certificate where its paths point (a self-signed
one made for the test)."""
import os
import re
import subprocess
import tempfile

from lib import check, eq
import stack

ROOT = stack.ROOT
CERT_DIR = "/etc/letsencrypt/live/billing.example.com"


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, **kw)


def certificate(d):
    cert, key = os.path.join(d, "fullchain.pem"), os.path.join(d, "privkey.pem")
    p = run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
             "/CN=billing.example.com", "-keyout", key, "-out", cert])
    eq(p.returncode, 0, "a self-signed certificate: %s" % p.stderr)
    return cert, key


def as_installed(text, d, cert, key):
    """The example with the certificate's paths and the installed
    snippets' directory pointed at this test's files."""
    text = text.replace(CERT_DIR + "/fullchain.pem", cert).replace(CERT_DIR + "/privkey.pem", key)
    return text.replace("/usr/share/creditd/", ROOT + "/")


def test_the_nginx_example_is_tls_and_loads():
    with open(os.path.join(ROOT, "nginx", "example-server.conf")) as f:
        text = f.read()
    check(re.search(r"listen 443 ssl", text) is not None, "it listens on 443 with TLS")
    check("return 308 https://$host$request_uri;" in text, "plain http goes to https, a POST kept a POST")
    d = tempfile.mkdtemp(prefix="tls-nginx.", dir=stack.path())
    cert, key = certificate(d)
    site = os.path.join(d, "site.conf")
    with open(site, "w") as f:
        f.write(as_installed(text, d, cert, key))
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write("pid %s/nginx.pid;\nerror_log %s/error.log;\nevents {}\nhttp {\n"
                "  client_body_temp_path %s;\n  access_log off;\n  include %s;\n}\n" % (d, d, d, site))
    p = run(["nginx", "-t", "-p", d, "-c", conf])
    eq(p.returncode, 0, "nginx -t: %s" % p.stderr)
    check("syntax is ok" in p.stderr, "nginx says so: %s" % p.stderr)


def test_the_apache_example_is_tls_and_loads():
    with open(os.path.join(ROOT, "apache", "example-vhost.conf")) as f:
        text = f.read()
    check("<VirtualHost *:443>" in text and "SSLEngine on" in text, "a TLS vhost")
    check("RewriteRule ^ https://" in text, "plain http goes to https")
    d = tempfile.mkdtemp(prefix="tls-apache.", dir=stack.path())
    cert, key = certificate(d)
    mods = "/usr/lib/apache2/modules"
    loads = "".join("LoadModule %s_module %s/mod_%s.so\n" % (m, mods, m)
                    for m in ("mpm_event", "authz_core", "authz_host", "proxy", "proxy_fcgi", "alias", "headers",
                              "rewrite", "ssl", "socache_shmcb"))
    conf = os.path.join(d, "apache.conf")
    with open(conf, "w") as f:
        f.write('ServerRoot "%s"\nServerName 127.0.0.1\nListen 127.0.0.1:18443\nPidFile "%s/apache.pid"\n'
                'DefaultRuntimeDir "%s"\nMutex file:%s default\nErrorLog "%s/error.log"\n%s'
                "Define CREDITD_ERRORS_DIR %s/apache/errors\n%s\n"
                % (d, d, d, d, d, loads, ROOT, as_installed(text, d, cert, key)))
    p = run(["apache2", "-t", "-f", conf])
    eq(p.returncode, 0, "apache2 -t: %s%s" % (p.stdout, p.stderr))
    check("Syntax OK" in p.stdout + p.stderr, "Apache says so: %s%s" % (p.stdout, p.stderr))


def _get(url_base, path, source):
    import http.client
    import urllib.parse
    u = urllib.parse.urlsplit(url_base)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10, source_address=(source, 0))
    c.request("GET", u.path.rstrip("/") + path)
    r = c.getresponse()
    r.read()
    c.close()
    return r.status


def test_metrics_answer_the_local_host_only_as_the_snippets_ship():
    """/metrics tells a stranger the ledger's traffic: install.md's nginx
    block and the Apache snippet (creditd-proxy-fcgi.conf, as included)
    answer it to 127.0.0.1 and refuse any other address (127.0.0.2 here,
    which reaches the same servers), while the API stays open to it."""
    from lib import ENV, free_port
    apache = ENV["CREDITD_APACHE_URL"]
    eq(_get(apache, "/metrics", "127.0.0.1"), 200, "Apache: the local host")
    eq(_get(apache, "/metrics", "127.0.0.2"), 403, "Apache: another address")
    eq(_get(apache, "/healthz", "127.0.0.2"), 200, "Apache: the API for anyone")
    text = open(os.path.join(ROOT, "docs", "install.md")).read()
    block = re.search(r"```nginx\n(limit_req_zone.*?)```", text, re.S).group(1)
    sock_dir = stack.path()
    if os.path.exists(stack.path("sock_dir")):
        sock_dir = open(stack.path("sock_dir")).read().strip()
    port = free_port()
    d = tempfile.mkdtemp(prefix="install-nginx.", dir=stack.path())
    site = (block.replace("unix:/run/creditd/creditd.sock", "unix:%s/creditd-apache.sock" % sock_dir)
            .replace("listen 80;", "listen 127.0.0.1:%d;" % port).replace("/usr/share/creditd/", ROOT + "/"))
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write("pid %s/nginx.pid;\nerror_log %s/error.log;\nevents {}\nhttp {\n  client_body_temp_path %s;\n"
                "  fastcgi_temp_path %s;\n  access_log off;\n%s\n}\n" % (d, d, d, d, site))
    p = run(["nginx", "-t", "-p", d, "-c", conf])
    eq(p.returncode, 0, "install.md's nginx block loads: %s" % p.stderr)
    p = subprocess.Popen(["nginx", "-p", d, "-c", conf, "-g", "daemon off;"], stderr=subprocess.DEVNULL)
    try:
        from lib import wait_until
        base = "http://127.0.0.1:%d/credits" % port
        def up():
            try:
                return _get(base, "/healthz", "127.0.0.1") == 200
            except OSError:
                return False
        check(wait_until(up, timeout=10), "nginx serves creditd (%s/error.log)" % d)
        eq(_get(base, "/metrics", "127.0.0.1"), 200, "nginx: the local host")
        eq(_get(base, "/metrics", "127.0.0.2"), 403, "nginx: another address")
        eq(_get(base, "/healthz", "127.0.0.2"), 200, "nginx: the API for anyone")
        # Its limit_req: past the burst, 429 in creditd's shape.
        import http.client
        import json
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        refused = []
        for _ in range(600):
            c.request("GET", "/credits/healthz")
            r = c.getresponse()
            body = r.read()
            if r.status == 429:
                refused.append((body, r.getheader("Retry-After"), r.getheader("Content-Type")))
        c.close()
        check(refused, "600 calls at once pass the burst of 200")
        body, retry, ctype = refused[0]
        eq((json.loads(body)["error"]["code"], json.loads(body)["error"]["type"], retry, ctype),
           ("rate_limit_exceeded", "rate_limit_error", "1", "application/json"), "limit_req's 429 is JSON")
    finally:
        p.terminate()
        p.wait(10)
