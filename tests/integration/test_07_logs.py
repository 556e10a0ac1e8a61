"""test_07_logs.py: creditd's log as a sysadmin uses it: one JSON object
per line with server.log_format = json (for log shippers), and the
shipped logrotate file rotating it while creditd runs (SIGHUP reopens)."""
import json
import os
import shutil
import subprocess

import stack
from lib import ENV, api, check, eq, wait_until


def lines(path):
    with open(path) as f:
        return [line for line in f.read().splitlines() if line.strip()]


def test_json_lines():
    log = stack.path("creditd-json.log")
    stack.creditd_kill9()
    try:
        stack.creditd_start(env={"CREDITD_LOG_FORMAT": "json", "CREDITD_LOG": log})
        r = api("GET", "/v1/models", auth="read", headers={"X-Request-Id": "json-log-1"})
        eq(r.status, 200, "a request")
        check(wait_until(lambda: any("json-log-1" in line for line in lines(log)), timeout=5), "logged")
        parsed = [json.loads(line) for line in lines(log)]     # every line is one JSON object
        for p in parsed:
            check({"time", "level", "pid", "msg"} <= set(p), "the common fields: %r" % p)
        req = [p for p in parsed if p.get("request_id") == "json-log-1"]
        eq(len(req), 1, "the request's line")
        eq((req[0]["method"], req[0]["path"], req[0]["status"], req[0]["level"]), ("GET", "/v1/models", 200, "info"),
           "its fields")
        check(isinstance(req[0]["ms"], (int, float)), "its time")
    finally:
        stack.creditd_kill9()
        stack.creditd_start()


def test_the_logrotate_file_rotates_a_running_creditd():
    logrotate = shutil.which("logrotate") or "/usr/sbin/logrotate"
    check(os.path.exists(logrotate), "logrotate is missing (apt-get install logrotate)")
    log = ENV["CREDITD_CONFIG"].replace("creditd.conf", "creditd.log")
    with open(os.path.join(stack.ROOT, "etc", "creditd.logrotate")) as f:
        shipped = f.read()
    check("postrotate" in shipped and "HUP" in shipped, "the shipped file reopens by SIGHUP")
    check("create 0640 creditd creditd" in shipped, "new logs are the creditd user's, as its directory is")
    check("\tsu creditd creditd\n" in shipped, "rotated as the creditd user, not root, in a directory creditd writes")
    conf = stack.path("logrotate.conf")
    with open(conf, "w") as f:
        # The shipped rules, on the stack's log, telling the stack's two
        # creditd (both write it; the shipped pkill tells every creditd):
        # one left writing the rotated file would log there for the rest
        # of the run, unseen by a later file that reads the log.
        f.write(shipped.replace("/var/log/creditd/*.log", log).replace("create 0640 creditd creditd", "create 0640")
                .replace("su creditd creditd", "su root root")
                .replace("systemctl kill --kill-whom=main -s HUP creditd.service >/dev/null 2>&1 || "
                         "pkill -HUP -x creditd || true",
                         "kill -HUP %d %d" % (stack.creditd_pid(), stack.pid_of("creditd-apache"))))
    eq(api("GET", "/healthz", auth=None).status, 200, "something to log")
    p = subprocess.run([logrotate, "-f", "-s", stack.path("logrotate.state"), conf], capture_output=True, text=True,
                       timeout=30)
    eq(p.returncode, 0, "logrotate: %s" % p.stderr)
    check(os.path.exists(log + ".1"), "rotated to %s.1" % log)
    # The postrotate's kill returns at once; each creditd reopens on its
    # signal thread a moment later and says so in the new file, which is
    # where its requests go from then on.
    pids = {stack.creditd_pid(), stack.pid_of("creditd-apache")}
    check(wait_until(lambda: os.path.exists(log) and all(any("creditd[%d]" % pid in line and "log reopened" in line
                                                             for line in lines(log)) for pid in pids), timeout=5),
          "each creditd says in the new file that it reopened its log (pids %s)" % sorted(pids))
    eq(api("GET", "/v1/models", auth="read", headers={"X-Request-Id": "after-rotate"}).status, 200, "a request")
    check(wait_until(lambda: os.path.exists(log) and any("after-rotate" in line for line in lines(log)), timeout=5),
          "creditd writes to the new file after SIGHUP")
    eq(api("GET", "/v1/models", auth="read", headers={"X-Request-Id": "after-rotate-apache"},
           base=ENV["CREDITD_APACHE_URL"]).status, 200, "a request through Apache")
    check(wait_until(lambda: any("after-rotate-apache" in line for line in lines(log)), timeout=5),
          "the Apache side's creditd writes to the new file too")
