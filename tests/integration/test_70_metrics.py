"""test_70_metrics.py: GET /metrics (DESIGN §10 "Metrics"). Traffic of
every status class the stack can produce (503 by freezing the database)
is counted under its route and exact code; the text passes `promtool check
metrics`; each route's duration histogram is cumulative and counts the
route's requests; creditd_db_up follows the watchdog per node as the
config names it; creditd_outbox_pending is the outbox's pending events;
creditd_build_info carries `creditd --version`. The shipped alert rules
pass `promtool check rules`, and every metric the rules and the Grafana
dashboard ask for exists in a live /metrics."""
import configparser
import json
import os
import re
import shutil
import signal
import subprocess

import yaml

from lib import ENV, api, check, eq, new_account, sql, uid, wait_until
from test_20_guard import authorize, funded, q

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RULES = os.path.join(ROOT, "etc", "prometheus", "creditd-alerts.yml")
DASHBOARD = os.path.join(ROOT, "etc", "grafana", "creditd-dashboard.json")
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def scrape():
    r = api("GET", "/metrics", auth=None)
    eq(r.status, 200, "GET /metrics")
    check(r.headers.get("content-type", "").startswith("text/plain"), "text/plain: %r" % r.headers)
    return r.raw.decode()


def samples(text):
    """[(name, {label: value}, float)] of every sample line."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        check(m is not None, "a sample line: %r" % line)
        out.append((m.group(1), dict(LABEL.findall(m.group(2) or "")), float(m.group(3))))
    return out


def value(text, name, **labels):
    for n, ls, v in samples(text):
        if n == name and ls == labels:
            return v
    return None


def requests(text):
    """{(route, status): count}."""
    return {(ls["route"], ls["status"]): v for n, ls, v in samples(text) if n == "creditd_requests_total"}


def promtool(*args, stdin=None):
    exe = shutil.which("promtool")
    check(exe is not None, "promtool is needed (Debian: apt-get install prometheus)")
    return subprocess.run([exe] + list(args), input=stdin, capture_output=True, text=True, timeout=60)


def _mariadbd_pid():
    with open(os.path.join(ENV["CREDITD_STACK_DIR"], "mysql.pid")) as f:
        return int(f.read().strip())


def _config_nodes():
    """The database nodes' names as creditd's config makes them:
    [database] nodes as listed, else host:port (defaults localhost, 3306)."""
    cp = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=("#",), strict=False)
    with open(ENV["CREDITD_CONFIG"]) as f:
        cp.read_string(f.read())
    db = cp["database"] if cp.has_section("database") else {}
    if db.get("nodes", "").strip():
        return [n.strip() for n in db["nodes"].split(",") if n.strip()]
    return ["%s:%s" % (db.get("host", "localhost").strip() or "localhost", db.get("port", "3306").strip() or "3306")]


def _traffic():
    """Sends one or more requests of each status; returns {(route, status): n} sent."""
    sent = {}

    def want(r, status, route, what):
        eq(r.status, status, what)
        sent[(route, str(status))] = sent.get((route, str(status)), 0) + 1

    for _ in range(3):
        want(api("GET", "/healthz", auth=None), 200, "healthz", "healthz")
    acct = new_account("metrics")
    sent[("account_create", "201")] = 1
    want(api("GET", "/v1/accounts/" + q(acct), auth="read"), 200, "account_get", "an account")
    want(api("POST", "/v1/accounts", {"id": "", "kind": "user"}), 400, "account_create", "an empty id")
    want(api("GET", "/v1/models", auth="crd_" + "0" * 64), 401, "models", "an unknown key")
    poor = funded(100, "metrics")
    sent[("account_create", "201")] += 1
    sent[("account_get", "200")] = sent[("account_get", "200")] + 1
    sent[("debit", "201")] = 1
    want(authorize(poor), 402, "authorize", "a hold beyond the balance")
    want(api("POST", "/v1/accounts", {"id": uid(), "kind": "user"}, auth="read"), 403, "account_create",
         "a read key creating")
    want(api("GET", "/v1/accounts/" + uid("nobody"), auth="read"), 404, "account_get", "no such account")
    want(api("GET", "/v1/nothing-here"), 404, "unmatched", "no route")
    want(api("POST", "/v1/accounts", {"id": acct, "kind": "workspace"}), 409, "account_create",
         "the same id, another body")
    want(api("POST", "/v1/accounts", raw=b'{"id":"' + b"a" * 70000 + b'"}'), 413, "account_create",
         "a body over the limit")
    want(api("POST", "/v1/accounts/%s/grants" % q(acct), raw=b"amount_micros=1",
             headers={"Content-Type": "application/x-www-form-urlencoded"}), 415, "grant", "a form")
    capped = new_account("metrics", monthly_limit_micros=1)
    sent[("account_create", "201")] += 1
    want(authorize(capped), 429, "authorize", "a hold beyond the monthly limit")
    return sent


def _wait_counted(before, sent):
    """Every request sent is counted (each is counted just after its
    answer is written): returns the text once it says so."""
    got = [None]

    def counted():
        got[0] = scrape()
        now = requests(got[0])
        return all(now.get(k, 0) - before.get(k, 0) >= n for k, n in sent.items())
    wait_until(counted, timeout=5)
    return got[0]


def test_every_status_is_counted_under_its_own_code():
    before = requests(scrape())
    sent = _traffic()
    # A frozen database: the watchdog says down, /healthz answers 503,
    # and creditd_db_up says 0 for the node.
    node = _config_nodes()[0]
    pid = _mariadbd_pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        check(wait_until(lambda: api("GET", "/healthz", auth=None).status == 503, timeout=3.0, step=0.1),
              "healthz 503 while the database is frozen")
        sent[("healthz", "503")] = 1
        node_down = wait_until(lambda: value(scrape(), "creditd_db_up", node=node) == 0, timeout=3.0, step=0.1)
    finally:
        os.kill(pid, signal.SIGCONT)
    check(wait_until(lambda: api("GET", "/healthz", auth=None).status == 200, timeout=5.0, step=0.1), "healthz 200")
    text = _wait_counted(before, sent)
    now = requests(text)
    for (route, status), n in sorted(sent.items()):
        got = now.get((route, status), 0) - before.get((route, status), 0)
        check(got >= n, "%s %s: %d sent, %d counted" % (route, status, n, got))
    # Exact for the codes nobody else sends while this runs.
    for key in (("account_create", "400"), ("account_create", "403"), ("account_create", "409"),
                ("account_create", "413"), ("grant", "415"), ("authorize", "402"), ("authorize", "429"),
                ("models", "401")):
        eq(now.get(key, 0) - before.get(key, 0), sent[key], "%s %s counted once each" % key)
    statuses = {s for (_, s) in now}
    for code in ("200", "201", "400", "401", "402", "403", "404", "409", "413", "415", "429", "503"):
        check(code in statuses, "status %s has its own series" % code)
    check(all(re.fullmatch(r"[1-5][0-9][0-9]", s) for s in statuses), "only exact codes: %r" % sorted(statuses))
    check(node_down, "creditd_db_up{node=%r} 0 while the database was frozen" % node)


def test_metrics_pass_promtool():
    text = scrape()
    p = promtool("check", "metrics", stdin=text)
    eq(p.returncode, 0, "promtool check metrics: %s%s" % (p.stdout, p.stderr))
    eq((p.stdout + p.stderr).strip(), "", "promtool has no complaint")


def _histograms(text):
    """{route: {"buckets": [(le, n)], "count": n, "sum": s}}."""
    out = {}
    for n, ls, v in samples(text):
        if not n.startswith("creditd_request_duration_seconds_"):
            continue
        h = out.setdefault(ls["route"], {"buckets": []})
        if n.endswith("_bucket"):
            h["buckets"].append((float(ls["le"]), v))
        else:
            h[n.rsplit("_", 1)[1]] = v
    return out


def _consistent(text):
    reqs = requests(text)
    for route, h in _histograms(text).items():
        if h.get("count") != sum(v for (r, _), v in reqs.items() if r == route):
            return False
    return True


def test_duration_histogram_is_cumulative_and_counts_each_route():
    for _ in range(5):
        api("GET", "/healthz", auth=None)
    got = [None]

    def settled():
        got[0] = scrape()
        return _consistent(got[0])
    wait_until(settled, timeout=5)
    text = got[0]
    hist = _histograms(text)
    check("healthz" in hist and "account_create" in hist, "histograms of routes that answered: %r" % sorted(hist))
    reqs = requests(text)
    for route, h in hist.items():
        les = [le for le, _ in h["buckets"]]
        eq(les, sorted(les), "%s: buckets in order of their bounds" % route)
        eq(les[-1], float("inf"), "%s: ends with +Inf" % route)
        counts = [n for _, n in h["buckets"]]
        check(all(a <= b for a, b in zip(counts, counts[1:])), "%s: cumulative buckets %r" % (route, counts))
        eq(counts[-1], h.get("count"), "%s: +Inf is the count" % route)
        eq(h.get("count"), sum(v for (r, _), v in reqs.items() if r == route),
           "%s: the histogram counts the route's requests" % route)
        check(h.get("sum", -1) >= 0, "%s: a sum in seconds" % route)
    check(hist["healthz"]["count"] >= 5, "healthz observed")


def test_db_up_per_node_as_the_config_names_it():
    nodes = _config_nodes()
    ok = [None]

    def up():
        ok[0] = {ls.get("node"): v for n, ls, v in samples(scrape()) if n == "creditd_db_up"}
        return ok[0] == {name: 1.0 for name in nodes}
    check(wait_until(up, timeout=5), "creditd_db_up 1 for each of %r: %r" % (nodes, ok[0]))


def test_outbox_pending_is_the_undelivered_events():
    text = scrape()
    v = value(text, "creditd_outbox_pending")
    check(v is not None and v >= 0 and v == int(v), "creditd_outbox_pending a whole number: %r" % v)
    got = [None]

    def agrees():
        want = int(sql("SELECT COUNT(*) FROM events WHERE state = 'pending'")[0][0])
        got[0] = (value(scrape(), "creditd_outbox_pending"), want)
        return got[0][0] == want
    # The background thread counts once a sweep (1 s on the stack).
    check(wait_until(agrees, timeout=5, step=0.2), "outbox pending (metrics, SQL): %r" % (got[0],))


def test_build_info_carries_the_version():
    binary = os.path.join(os.path.dirname(ENV["CREDITCTL"]), "creditd")
    p = subprocess.run([binary, "--version"], capture_output=True, text=True)
    eq(p.returncode, 0, "creditd --version")
    version = p.stdout.split()[-1]
    eq(value(scrape(), "creditd_build_info", version=version), 1.0, "creditd_build_info{version=%r}" % version)


def _names_in(expr):
    return set(re.findall(r"\b(creditd_[a-zA-Z0-9_]+)", expr))


def _live_names():
    return {n for n, _, _ in samples(scrape())}


def test_alert_rules_pass_promtool_and_use_live_metrics():
    check(os.path.exists(RULES), "alert rules shipped at %s" % RULES)
    p = promtool("check", "rules", RULES)
    eq(p.returncode, 0, "promtool check rules: %s%s" % (p.stdout, p.stderr))
    check("SUCCESS" in p.stdout and "WARNING" not in p.stdout + p.stderr, "no complaint: %s%s" % (p.stdout, p.stderr))
    with open(RULES) as f:
        doc = yaml.safe_load(f)
    exprs = [r["expr"] for g in doc["groups"] for r in g["rules"]]
    check(len(exprs) >= 4, "rules for errors, latency, database and outbox: %d" % len(exprs))
    live = _live_names()
    used = set().union(*(_names_in(e) for e in exprs))
    for name in ("creditd_db_up", "creditd_outbox_pending", "creditd_requests_total",
                 "creditd_request_duration_seconds_bucket"):
        check(name in used, "a rule watches %s" % name)
    eq(sorted(used - live), [], "metrics the rules use that /metrics does not have")


def _exprs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "expr" and isinstance(v, str):
                yield v
            else:
                yield from _exprs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _exprs(v)


def test_grafana_dashboard_parses_and_uses_live_metrics():
    with open(DASHBOARD) as f:
        dash = json.load(f)
    check(dash.get("title") and dash.get("panels"), "a dashboard with panels")
    exprs = list(_exprs(dash))
    check(exprs, "panels with queries")
    used = set().union(*(_names_in(e) for e in exprs))
    for name in ("creditd_requests_total", "creditd_request_duration_seconds_bucket", "creditd_guard_batch_size_bucket",
                 "creditd_db_up", "creditd_outbox_pending"):
        check(name in used, "the dashboard shows %s" % name)
    check(any("histogram_quantile" in e and "creditd_request_duration_seconds_bucket" in e for e in exprs),
          "latency quantiles from the histogram")
    check(any("by (status)" in e.replace("by(", "by (") for e in exprs if "creditd_requests_total" in e),
          "requests by status")
    eq(sorted(used - _live_names()), [], "metrics the dashboard uses that /metrics does not have")
