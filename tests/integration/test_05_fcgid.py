"""test_05_fcgid.py: shared hosting. Apache with mod_fcgid starts creditd
itself and hands it its listening socket on fd 0; the config comes from
FcgidInitialEnv, as apache/example-fcgid.conf shows."""
import json
import os
import shutil
import signal
import subprocess
import time

import stack
from lib import ENV, api, check, eq, free_port, new_account, wait_until
from test_61b_upload_bodies import _post

MODS = "/usr/lib/apache2/modules"


def _config(d, port, binary):
    """This Apache, with apache/example-fcgid.conf's block as shipped but
    for its paths (the site's config and binary here)."""
    with open(os.path.join(stack.ROOT, "apache", "example-fcgid.conf")) as f:
        example = f.read()
    example = example.replace("/home/site/creditd/creditd.conf", "%s/creditd.conf" % d)
    example = example.replace("/home/site/creditd/bin/creditd", binary)
    check("/home/site" not in example, "every path of the example replaced")
    return "\n".join([
        'ServerRoot "%s"' % d, "ServerName 127.0.0.1", "Listen 127.0.0.1:%d" % port,
        'PidFile "%s/apache.pid"' % d, 'DefaultRuntimeDir "%s/run"' % d, "Mutex file:%s/run default" % d,
        "Mutex pthread fcgid-proctbl", 'ErrorLog "%s/error.log"' % d, "LogLevel warn",
        "LoadModule mpm_event_module %s/mod_mpm_event.so" % MODS,
        "LoadModule authz_core_module %s/mod_authz_core.so" % MODS,
        "LoadModule authz_host_module %s/mod_authz_host.so" % MODS,
        "LoadModule alias_module %s/mod_alias.so" % MODS,
        "LoadModule fcgid_module %s/mod_fcgid.so" % MODS,
        "User www-data", "Group www-data",
        "FcgidIPCDir %s/ipc" % d, "FcgidProcessTableFile %s/run/fcgid_shm" % d,
        "Define CREDITD_ERRORS_DIR %s/errors" % d, example, ""])


def _site_dir():
    """The directory of this Apache and of what its children (www-data)
    read and run: made here with modes of its own, under the stack's temp
    dir, never in the checkout, whose parents may be closed to others (a
    clone in a 0700 directory: Apache then answers 403, unable to check
    an .htaccess on the way to a binary there)."""
    d = os.path.join(ENV["CREDITD_STACK_DIR"], "fcgid")
    for sub, mode in (("", 0o755), ("run", 0o755), ("ipc", 0o755), ("bin", 0o755)):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
        os.chmod(os.path.join(d, sub), mode)
    subprocess.run(["chown", "www-data", os.path.join(d, "ipc")], check=True)
    errors = os.path.join(d, "errors")
    shutil.rmtree(errors, ignore_errors=True)
    shutil.copytree(os.path.join(stack.ROOT, "apache", "errors"), errors)
    for name in [errors] + [os.path.join(errors, x) for x in os.listdir(errors)]:
        os.chmod(name, 0o755 if os.path.isdir(name) else 0o644)
    binary = os.path.join(d, "bin", "creditd")
    shutil.copy(os.path.join(os.path.dirname(ENV["CREDITCTL"]), "creditd"), binary)
    os.chmod(binary, 0o755)
    return d, binary


def _site_config(d):
    """The stack's config as the vhost's, in d, its path: as on shared
    hosting, the site's user (the one mod_fcgid runs creditd as) reads it,
    nobody else does."""
    with open(ENV["CREDITD_CONFIG"]) as src:
        text = src.read()
    site_conf = os.path.join(d, "creditd.conf")
    fd = os.open(site_conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(site_conf, 0o600)
    subprocess.run(["chown", "www-data", site_conf], check=True)
    return site_conf


def test_mod_fcgid_spawns_creditd_with_the_socket_on_fd0():
    d, binary = _site_dir()
    site_conf = _site_config(d)
    p = subprocess.run(["runuser", "-u", "www-data", "--", "test", "-x", binary, "-a", "-r", site_conf],
                       capture_output=True)
    eq(p.returncode, 0, "Apache's user runs %s and reads %s (every directory above them open to it)"
       % (binary, site_conf))
    port = free_port()
    conf = os.path.join(d, "apache.conf")
    with open(conf, "w") as f:
        f.write(_config(d, port, binary))
    out = open(os.path.join(d, "apache.out"), "w")
    proc = subprocess.Popen(["apache2", "-f", conf, "-DFOREGROUND"], stdin=subprocess.DEVNULL, stdout=out,
                            stderr=out, start_new_session=True)
    # Recorded with the stack's servers: if this run is cut short, ./dev
    # still stops this Apache and the creditd it spawned (its process group).
    stack.record("apache2-fcgid", proc.pid)
    base = "http://127.0.0.1:%d/credits" % port
    try:
        last = []

        def up():
            try:
                r = api("GET", "/healthz", auth=None, base=base)
            except OSError as e:
                last[:] = [repr(e)]
                return False
            last[:] = ["%d %s" % (r.status, r.raw[:200])]
            return r.status == 200
        check(wait_until(up, timeout=20), "healthz through mod_fcgid: last answer %s; %s"
              % (last, _logs(d)))
        acct = new_account("fcgid")
        r = api("GET", "/v1/accounts/" + acct, auth="read", base=base)
        eq(r.status, 200, "account through mod_fcgid")
        eq(r.json["balance_micros"], 10000000, "same ledger")
        eq(api("GET", "/v1/models", auth=None, base=base).status, 401, "no key")
        r = api("POST", "/v1/guard/authorize", {"account": acct, "model": "gpt-4o", "input_tokens": 10,
                                                "request_id": "fcgid-1"}, auth="guard", base=base)
        eq(r.status, 200, "authorize through mod_fcgid")
        # /metrics: this host only, as the example ships (127.0.0.2 reaches
        # the same Apache from another address).
        eq(_get(base, "/metrics", "127.0.0.1"), 200, "/metrics to the local host")
        eq(_get(base, "/metrics", "127.0.0.2"), 403, "/metrics refused to another address")
        eq(_get(base, "/healthz", "127.0.0.2"), 200, "the API stays open to it")
        # Bodies, per route (the example's LimitRequestBody; mod_fcgid's
        # FcgidMaxRequestLen is one for the vhost): an upload route's
        # 20 MiB reaches creditd (its route's key check: 401, not 413); the
        # rest of the gateway stops at 8 MiB, the other routes at 1 MiB.
        eq(_post(base, "/openai/v1/audio/transcriptions", 20 * 1024 * 1024)[0], 401,
           "20 MiB to audio/transcriptions through mod_fcgid reaches creditd; %s" % _logs(d))
        r = _post(base, "/openai/v1/audio/transcriptions", 26 * 1024 * 1024)
        eq(r[0], 413, "26 MiB: 413: %r; %s" % (r[1][:300], _logs(d)))
        _openai_too_large(r[1], "26 MiB to audio/transcriptions")
        # Apache's 413 in the route's provider's shape, as creditd's own.
        r = _post(base, "/anthropic/v1/messages", 9 * 1024 * 1024, ctype="application/json")
        eq(r[0], 413, "9 MiB to /anthropic/v1/messages: 413: %r" % r[1][:300])
        doc = json.loads(r[1])
        eq((doc.get("type"), doc["error"]["type"]), ("error", "request_too_large"),
           "9 MiB to /anthropic/v1/messages: Anthropic's shape: %r" % doc)
        r = _post(base, "/v1/accounts", 2 * 1024 * 1024, ctype="application/json")
        eq(r[0], 413, "2 MiB to /v1/accounts: 413")
        _openai_too_large(r[1], "2 MiB to /v1/accounts")
        eq(_post(base, "/openai/v1/chat/completions", 9 * 1024 * 1024, ctype="application/json")[0], 413,
           "9 MiB to chat/completions: 413")
        eq(_post(base, "/openai/v1/chat/completions", 100000, ctype="application/json")[0], 401,
           "100 KB to chat/completions reaches creditd (no key: 401)")
    finally:
        _stop_group(proc)
        out.close()


def _openai_too_large(body, what):
    """A 413 in JSON, creditd's (and OpenAI's) shape, not Apache's HTML page."""
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    check(isinstance(doc, dict) and isinstance(doc.get("error"), dict), "%s: JSON: %r" % (what, body[:300]))
    eq(doc["error"]["code"], "payload_too_large", "%s: its code" % what)


def _get(url_base, path, source):
    """The status of GET url_base + path, sent from the address source."""
    import http.client
    import urllib.parse
    u = urllib.parse.urlsplit(url_base)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=20, source_address=(source, 0))
    c.request("GET", u.path.rstrip("/") + path)
    r = c.getresponse()
    r.read()
    c.close()
    return r.status


def _logs(d):
    """The ends of this Apache's logs (mod_fcgid's spawns, creditd's stderr), for a failure's message."""
    out = []
    for name in ("error.log", "apache.out"):
        try:
            with open(os.path.join(d, name), errors="replace") as f:
                out.append("%s: %s" % (name, f.read()[-1500:]))
        except OSError as e:
            out.append("%s: %s" % (name, e))
    return "\n".join(out)


def _stop_group(proc):
    """Stops Apache and everything in its process group (the creditd
    processes mod_fcgid spawned), and checks none is left."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        pass
    for _ in range(100):
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
