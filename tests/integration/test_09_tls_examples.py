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
