"""test_70_galera.py: creditd scaled out on MariaDB Galera (docs/scale-out.md,
"Scale-out"), on the stack `./dev galera` starts: three nodes, two creditd
instances (each with `[database] nodes` naming all three) behind one nginx
upstream, and a URL per instance so a test can send one request to each.

Under load through both instances, with writes on all three nodes: no
overspend and the charges add up, one effect for one Idempotency-Key, one
request_id and one webhook sent to both instances at once; a node killed
with kill -9 mid-load costs a bounded pause, every 2xx answer stays true,
`creditctl verify` stays clean, and the node rejoins and takes writes again.
"""
import hashlib
import hmac
import json
import os
import subprocess
import threading
import time
import urllib.parse

import lib
from lib import ENV, api, check, eq, parallel, uid, verify, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MODEL = "gpt-4o"


def urls():
    return [ENV["CREDITD_G1_URL"], ENV["CREDITD_G2_URL"]]


def galera():
    """The nodes: [{"n": 1, "port": ..., "cnf": ..., "name": "127.0.0.1:port"}]."""
    env = {}
    with open(ENV["CREDITD_GALERA_ENV"]) as f:
        for line in f:
            if "=" in line and not line.startswith("#"):
                k, v = line.rstrip("\n").split("=", 1)
                env[k] = v
    names = env["GALERA_NODES"].split(",")
    return [{"n": i + 1, "port": int(env["GALERA_NODE%d_PORT" % (i + 1)]), "cnf": env["GALERA_NODE%d_CNF" % (i + 1)],
             "name": names[i], "env": env} for i in range(len(names))]


def node_sql(node, statement, timeout=30, causal=False):
    """Rows of statement on one node. causal: the node first applies every
    write the cluster committed before (wsrep_sync_wait = 1): a commit is
    certified on all nodes at once but applied on the others a moment
    later, so a read of another node's write needs it."""
    if causal:
        statement = "SET SESSION wsrep_sync_wait = 1; " + statement
    p = subprocess.run(["mariadb", "--defaults-file=" + node["cnf"], "-N", "-B", "creditd", "-e", statement],
                       capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise AssertionError("sql on node %d failed: %s" % (node["n"], p.stderr))
    return [line.split("\t") for line in p.stdout.splitlines()]


def status(node, name):
    rows = node_sql(node, "SHOW STATUS LIKE '%s'" % name)
    return rows[0][1] if rows else None


def local_commits(nodes):
    return [int(status(n, "wsrep_local_commits")) for n in nodes]


# The routing, computed here as src/store/store.c does (FNV-1a, splitmix64's
# finaliser, the highest score wins), to know which node serves an account.
M64 = (1 << 64) - 1


def fnv1a(s):
    h = 14695981039346656037
    for b in s.encode():
        h ^= b
        h = (h * 1099511628211) & M64
    return h


def mix(x):
    x ^= x >> 30
    x = (x * 0xbf58476d1ce4e5b9) & M64
    x ^= x >> 27
    x = (x * 0x94d049bb133111eb) & M64
    x ^= x >> 31
    return x


def node_of(acct, nodes, up=None):
    best, score = None, -1
    for i, n in enumerate(nodes):
        if up is not None and not up[i]:
            continue
        s = mix(fnv1a(acct) ^ fnv1a(n["name"]))
        if s > score:
            best, score = i, s
    return best


def q(s):
    return urllib.parse.quote(s, safe="")


def cost(input_tokens, output_tokens):
    r = api("GET", "/v1/models", auth="read")
    eq(r.status, 200, "models")
    m = [x for x in r.json["data"] if x["model"] == MODEL][0]
    base = input_tokens * m["input_micros_per_mtok"] + output_tokens * m["output_micros_per_mtok"]
    return -(-(base * r.json["margin_bps"]) // (10 ** 10))


def new_account(prefix="gal", base=None):
    acct = uid(prefix)
    r = api("POST", "/v1/accounts", {"id": acct, "kind": "user"}, base=base)
    check(r.status in (200, 201), "account create: %r" % r)
    return acct


def account(acct, base=None):
    r = api("GET", "/v1/accounts/" + q(acct), auth="read", base=base)
    eq(r.status, 200, "account %r" % r)
    return r.json


def funded(micros, prefix="gal"):
    acct = new_account(prefix)
    bonus = account(acct)["balance_micros"]
    if bonus != micros:
        path, amount = ("debits", bonus - micros) if bonus > micros else ("grants", micros - bonus)
        body = {"amount_micros": amount, "reason": "set-up"} if path == "debits" else {"amount_micros": amount,
                                                                                         "source": "promo"}
        r = api("POST", "/v1/accounts/%s/%s" % (q(acct), path), body)
        check(r.status in (200, 201), "set-up: %r" % r)
    eq(account(acct)["balance_micros"], micros, "set-up balance")
    return acct


def authorize(acct, base, request_id=None, key=None, max_output_tokens=500):
    body = {"account": acct, "model": MODEL, "input_tokens": 1000, "max_output_tokens": max_output_tokens,
            "request_id": request_id or uid("req")}
    return api("POST", "/v1/guard/authorize", body, auth="guard", base=base,
               headers={"Idempotency-Key": key} if key else None)


def settle(hold_id, base, output_tokens=300, key=None):
    return api("POST", "/v1/guard/settle", {"hold_id": hold_id, "input_tokens": 1000, "output_tokens": output_tokens},
               auth="guard", base=base, headers={"Idempotency-Key": key} if key else None)


# ---- the cluster ----

def test_three_synced_nodes_and_two_instances():
    nodes = galera()
    eq(len(nodes), 3, "three nodes")
    for n in nodes:
        eq(status(n, "wsrep_cluster_size"), "3", "node %d sees three nodes" % n["n"])
        eq(status(n, "wsrep_local_state_comment"), "Synced", "node %d synced" % n["n"])
        eq(status(n, "wsrep_ready"), "ON", "node %d ready" % n["n"])
    for base in urls():
        eq(api("GET", "/healthz", auth=None, base=base).status, 200, "healthz of %s" % base)
    # The upstream sends requests to both instances.
    logs = [ENV["CREDITD_G1_LOG"], ENV["CREDITD_G2_LOG"]]
    sizes = [os.path.getsize(p) for p in logs]
    for _ in range(20):
        eq(api("GET", "/v1/models", auth="read").status, 200, "models through the upstream")
    grew = [os.path.getsize(p) > s for p, s in zip(logs, sizes)]
    check(all(grew), "both instances answered requests of the upstream: %r" % grew)


def test_each_account_is_written_on_its_node_and_all_three_take_writes():
    nodes = galera()
    accts = [new_account("spread") for _ in range(24)]
    before = local_commits(nodes)
    res = parallel(len(accts), lambda i: authorize(accts[i], urls()[i % 2]))
    check(all(r.status == 200 for r in res), "every hold: %r" % [r for r in res if r.status != 200][:3])
    gained = [a - b for a, b in zip(local_commits(nodes), before)]
    check(all(g > 0 for g in gained), "writes on every node: %r" % gained)
    # One account, 20 writes through both instances: all on its node.
    acct = accts[0]
    mine = node_of(acct, nodes)
    before = local_commits(nodes)
    for i in range(20):
        eq(authorize(acct, urls()[i % 2]).status, 200, "hold %d" % i)
    gained = [a - b for a, b in zip(local_commits(nodes), before)]
    check(gained[mine] >= 20, "the account's 20 writes went to its node %d: %r" % (mine + 1, gained))
    others = sum(g for i, g in enumerate(gained) if i != mine)
    check(others <= 4, "and not to the others (background work aside): %r" % gained)


# ---- money under load through both instances ----

def test_64_concurrent_authorizes_on_one_account_never_overspend():
    hold = cost(1000, 500)
    acct = funded(20 * hold + hold // 2, "hot")            # room for exactly 20 holds
    start = account(acct)["balance_micros"]
    res = parallel(64, lambda i: authorize(acct, urls()[i % 2]))
    granted = [r for r in res if r.status == 200]
    refused = [r for r in res if r.status != 200]
    eq(len(granted), 20, "exactly 20 holds fit: %r" % [r.status for r in res])
    check(all(r.status == 402 and r.err.get("code") == "insufficient_credits" for r in refused),
          "the others refused 402: %r" % refused[:3])
    a = account(acct)
    eq(a["reserved_micros"], 20 * hold, "reserved is the 20 holds")
    check(a["available_micros"] >= 0, "never below zero: %r" % a)
    # Settled through the other instance than the one that authorized.
    settled = parallel(len(granted), lambda i: settle(granted[i].json["hold_id"], urls()[(i + 1) % 2]))
    check(all(r.status == 200 for r in settled), "every settle: %r" % [r for r in settled if r.status != 200][:3])
    charged = sum(r.json["charged_micros"] for r in settled)
    eq(charged, 20 * cost(1000, 300), "each charged the real tokens")
    a = account(acct)
    eq(start - a["balance_micros"], charged, "the balance dropped by exactly what was charged")
    eq(a["reserved_micros"], 0, "nothing left reserved")
    verify()


def test_one_idempotency_key_and_one_request_id_sent_to_both_instances():
    hold = cost(1000, 500)
    acct = funded(50 * hold, "idem")
    key = uid("key")
    res = parallel(16, lambda i: authorize(acct, urls()[i % 2], request_id="same", key=key))
    check(all(r.status == 200 for r in res), "all answered: %r" % [r.status for r in res])
    eq(len({r.raw for r in res}), 1, "one answer, byte for byte, from both instances")
    eq(account(acct)["reserved_micros"], hold, "one hold")
    # The same request_id without a key: one hold, the copies replayed.
    res = parallel(16, lambda i: authorize(acct, urls()[i % 2], request_id="rid-1"))
    check(all(r.status == 200 for r in res), "all answered: %r" % [r.status for r in res])
    eq(len({r.json["hold_id"] for r in res}), 1, "one hold for one request_id")
    eq(account(acct)["reserved_micros"], 2 * hold, "two holds in all")
    # Direct usage with one request_id: charged once.
    before = account(acct)["balance_micros"]
    body = {"account": acct, "model": MODEL, "input_tokens": 100, "output_tokens": 50, "request_id": "use-1"}
    res = parallel(16, lambda i: api("POST", "/v1/usage", body, auth="guard", base=urls()[i % 2]))
    check(all(r.status == 200 for r in res), "all answered: %r" % [r.status for r in res])
    eq(sum(1 for r in res if not r.json["replayed"]), 1, "charged once, the rest replays")
    eq(before - account(acct)["balance_micros"], res[0].json["charged_micros"], "one charge")
    verify()


def sign(payload):
    t = int(time.time())
    mac = hmac.new(ENV["CREDITD_WEBHOOK_SECRET"].encode(), ("%d.%s" % (t, payload)).encode(), hashlib.sha256)
    return "t=%d,v1=%s" % (t, mac.hexdigest())


def stripe_event(etype, obj):
    """A Stripe event of type etype around obj, as JSON text."""
    return json.dumps({"id": "evt_" + uid("g").replace("-", ""), "object": "event", "api_version": "2024-06-20",
                       "created": int(time.time()), "data": {"object": obj}, "livemode": False,
                       "pending_webhooks": 1, "request": {"id": None, "idempotency_key": None}, "type": etype})


def paid_checkout(acct, cents=1000):
    """acct's Checkout top-up of cents, paid: (checkout.session.completed as
    JSON text, its payment intent)."""
    r = api("POST", "/v1/accounts/%s/topup" % q(acct), {"amount_cents": cents}, auth="app", base=urls()[0])
    eq(r.status, 200, "topup %r" % r)
    s = api("GET", "/_sessions/" + r.json["session_id"], auth=None, base=ENV["CREDITD_STRIPE_API_BASE"])
    obj = {k: v for k, v in s.json.items() if not k.startswith("_")}
    obj.update({"status": "complete", "payment_status": "paid", "url": None})
    return stripe_event("checkout.session.completed", obj), obj.get("payment_intent")


def test_a_webhook_delivered_20_times_across_both_instances_credits_once():
    acct = new_account("hook")
    r = api("POST", "/v1/accounts/%s/topup" % q(acct), {"amount_cents": 1500}, auth="app", base=urls()[0])
    eq(r.status, 200, "topup %r" % r)
    sid = r.json["session_id"]
    conn_base = ENV["CREDITD_STRIPE_API_BASE"]
    s = api("GET", "/_sessions/" + sid, auth=None, base=conn_base)
    eq(s.status, 200, "the fake's session")
    obj = {k: v for k, v in s.json.items() if not k.startswith("_")}
    obj.update({"status": "complete", "payment_status": "paid", "url": None})
    ev = {"id": "evt_" + uid("g").replace("-", ""), "object": "event", "api_version": "2024-06-20",
          "created": int(time.time()), "data": {"object": obj}, "livemode": False, "pending_webhooks": 1,
          "request": {"id": None, "idempotency_key": None}, "type": "checkout.session.completed"}
    payload = json.dumps(ev)
    before = account(acct)["balance_micros"]
    res = parallel(20, lambda i: api("POST", "/v1/webhooks/stripe", raw=payload.encode(), auth=None,
                                     headers={"Stripe-Signature": sign(payload)}, base=urls()[i % 2]))
    check(all(200 <= r.status < 300 for r in res), "every delivery acknowledged: %r" % [r.status for r in res])
    outcomes = [r.json.get("outcome") for r in res]
    eq(outcomes.count("credited"), 1, "credited once: %r" % outcomes)
    eq(account(acct)["balance_micros"] - before, 1500 * 10000, "one credit of the amount paid (default rate)")
    nodes = galera()
    for n in nodes:
        eq(node_sql(n, "SELECT COUNT(*) FROM stripe_events WHERE event_id = '%s'" % ev["id"], causal=True)[0][0], "1",
           "one event row, seen from node %d" % n["n"])
    verify()


# ---- one account written through two nodes ----

def instances(conf_g1, conf_g2):
    """Starts both creditd again with these config files (same sockets,
    same logs) and waits for each to answer."""
    import stack
    for n, conf in (("1", conf_g1), ("2", conf_g2)):
        name = "creditd-g" + n
        pid = stack.pid_of(name)
        os.kill(pid, 15)
        check(wait_until(lambda: not stack.alive(pid), timeout=15), "%s stopped" % name)
        env = {"CREDITD_LOG": ENV["CREDITD_G%s_LOG" % n]}
        for k in ("CREDITD_TEST_CLOCK_FILE", "CREDITD_TEST_UNTOLD_ROLLBACK_FILE"):    # as ./dev started them
            if ENV.get(k):
                env[k] = ENV[k]
        stack.start(name, [os.path.join(ROOT, "creditd"), "-c", conf, "--listen", "unix:" + ENV["CREDITD_G%s_SOCKET" % n]],
                    env=env)
        check(wait_until(lambda: api("GET", "/healthz", auth=None, base=ENV["CREDITD_G%s_URL" % n]).status == 200,
                         timeout=15), "%s answers" % name)


def test_a_node_with_one_applier_thread_is_named_in_a_warning():
    # One applier (MariaDB's default) stalls a row written through two
    # nodes for the lock wait, again and again (the next test took 60 to
    # 160 s instead of 6 with it): the stack runs four, and creditd warns
    # of a node that runs one.
    nodes = galera()
    for n in nodes:
        eq(node_sql(n, "SELECT @@wsrep_slave_threads"), [["4"]], "node %d runs four appliers" % n["n"])
    log = ENV["CREDITD_G1_LOG"]
    with open(log) as f:
        check("wsrep_slave_threads = 1" not in f.read(), "no warning while every node runs four")
    node_sql(nodes[0], "SET GLOBAL wsrep_slave_threads = 1")
    try:
        instances(ENV["CREDITD_CONFIG"], ENV["CREDITD_CONFIG"])
        want = "database node %s: wsrep_slave_threads = 1" % nodes[0]["name"]
        check(wait_until(lambda: want in open(log).read(), timeout=10), "creditd warns: %r" % want)
        others = [n["name"] for n in nodes[1:] if "node %s: wsrep_slave_threads" % n["name"] in open(log).read()]
        eq(others, [], "no other node named")
    finally:
        node_sql(nodes[0], "SET GLOBAL wsrep_slave_threads = 4")
        instances(ENV["CREDITD_CONFIG"], ENV["CREDITD_CONFIG"])


def test_one_account_written_through_two_nodes_stays_exact():
    # Routing keeps an account on one node; when two instances disagree
    # (each sees another node, or each is given one), Galera's
    # certification must still keep the ledger exact. Instance 1 writes
    # through node 1 only, instance 2 through node 2 only.
    nodes = galera()
    confs = []
    for i in (0, 1):
        conf = os.path.join(ENV["CREDITD_STACK_DIR"], "creditd-node%d-only.conf" % (i + 1))
        with open(ENV["CREDITD_CONFIG"]) as f:
            text = "".join("nodes = %s\n" % nodes[i]["name"] if line.startswith("nodes =") else line for line in f)
        with open(os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(text)
        confs.append(conf)
    hold = cost(1000, 500)
    acct = funded(1000 * hold, "cross")
    start = account(acct)["balance_micros"]
    instances(confs[0], confs[1])
    try:
        before = local_commits(nodes)

        def pairs(i):
            got = []
            for k in range(30):
                r = authorize(acct, urls()[(i + k) % 2])
                if r.status == 200:
                    s = settle(r.json["hold_id"], urls()[(i + k + 1) % 2])
                    got.append(s)
            return got
        res = [s for rs in parallel(32, pairs) for s in rs]
        gained = [a - b for a, b in zip(local_commits(nodes), before)]
        check(gained[0] > 10 and gained[1] > 10, "writes of the one account on both nodes: %r" % gained)
        ok = [s for s in res if s.status == 200]
        check(len(ok) > 400, "most pairs went through: %d of %d" % (len(ok), len(res)))
        # Each node applies the other's last commits a moment later.
        check(wait_until(lambda: len({account(acct, base=u)["balance_micros"] for u in urls()}) == 1, timeout=10),
              "both nodes agree on the balance")
        a = account(acct, base=urls()[0])
        eq(start - a["balance_micros"], sum(s.json["charged_micros"] for s in ok), "Σ charged = the balance drop")
        verify()
    finally:
        instances(ENV["CREDITD_CONFIG"], ENV["CREDITD_CONFIG"])


# ---- a node dies mid-load ----

class Load:
    """Threads that authorize and settle on many accounts through both
    instances, each write under an Idempotency-Key and sent again with it
    after a 503 or a lost connection, as a client should. Records every
    2xx answer with its time."""

    def __init__(self, accts, threads=8):
        self.accts = accts
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.ok = []             # (t, acct, kind, body)
        self.fail = []           # (t, acct, status)
        self.threads = [threading.Thread(target=self.run, args=(i,)) for i in range(threads)]

    def send(self, fn, acct):
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                r = fn()
            except OSError as e:
                with self.lock:
                    self.fail.append((time.time(), acct, str(e)))
                time.sleep(0.05)
                continue
            if r.status in (200, 201):
                return r
            with self.lock:
                self.fail.append((time.time(), acct, r.status))
            if r.status != 503:
                return r
            time.sleep(0.05)
        return None

    def run(self, i):
        n = 0
        while not self.stop.is_set():
            acct = self.accts[(i + n * 7) % len(self.accts)]
            base = urls()[n % 2]
            n += 1
            key = uid("k")
            r = self.send(lambda: authorize(acct, base, key=key), acct)
            if r is None or r.status != 200:
                continue
            with self.lock:
                self.ok.append((time.time(), acct, "authorize", r.json))
            hold = r.json["hold_id"]
            key2 = uid("k")
            r = self.send(lambda: settle(hold, urls()[n % 2], key=key2), acct)
            if r is not None and r.status == 200:
                with self.lock:
                    self.ok.append((time.time(), acct, "settle", r.json))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *a):
        self.stop.set()
        for t in self.threads:
            t.join()


def restart_node(node):
    p = subprocess.run([os.path.join(ROOT, "dev"), "galera-restart-node", ENV["CREDITD_STACK_DIR"], str(node["n"])],
                       capture_output=True, text=True, timeout=300)
    eq(p.returncode, 0, "restart of node %d: %s%s" % (node["n"], p.stdout, p.stderr[-2000:]))


def node_pid(node):
    with open(os.path.join(ENV["CREDITD_STACK_DIR"], "pids")) as f:
        pids = [line.split() for line in f if line.startswith("galera%d " % node["n"])]
    return int(pids[-1][1])


def watch_eviction(node, out, deadline):
    """Appends the time node first counts two members in its view."""
    while time.time() < deadline:
        try:
            if status(node, "wsrep_cluster_size") == "2":
                out.append(time.time())
                return
        except (AssertionError, subprocess.TimeoutExpired):
            pass
        time.sleep(0.05)


def test_kill_9_of_a_node_mid_load_fails_over_and_it_rejoins():
    nodes = galera()
    victim = nodes[1]
    # Twelve accounts, and more until at least three live on node 2: which
    # node an id lands on is a hash (12 random ids leave fewer than two on
    # one node about once in twenty runs).
    accts = [funded(5000000, "fo") for _ in range(12)]
    while sum(node_of(a, nodes) == 1 for a in accts) < 3 and len(accts) < 60:
        accts.append(funded(5000000, "fo"))
    on_victim = [a for a in accts if node_of(a, nodes) == 1]
    check(len(on_victim) >= 3, "some accounts live on node 2: %r" % [node_of(a, nodes) for a in accts])
    # Until the cluster evicts the dead node every node's commits wait
    # (Galera's evs.suspect_timeout, or evs.inactive_timeout when the
    # survivors do not agree in time: 2 and 4 s on the test stack, and the
    # view's install after): that part is Galera's. creditd's part is what
    # comes after the survivors' view has two members.
    evicted = []
    with Load(accts) as load:
        time.sleep(2)
        t_kill = time.time()
        os.kill(node_pid(victim), 9)
        watch = threading.Thread(target=watch_eviction, args=(nodes[0], evicted, t_kill + 12))
        watch.start()
        watch.join()
        time.sleep(max(0, t_kill + 6 - time.time(), (evicted[0] + 2.5 - time.time()) if evicted else 0))
    check(evicted, "the survivors evicted the dead node (wsrep_cluster_size 2) within 12 s")
    t_evicted = evicted[0]
    moved = [t for t, a, kind, _ in load.ok if a in on_victim and t > t_kill]
    check(moved, "the accounts of the dead node were served again")
    pause = moved[0] - t_kill
    times = sorted(t for t, _, _, _ in load.ok)
    around = [t_kill] + [t for t in times if t > t_kill]
    gap = max(b - a for a, b in zip(around, around[1:]))
    print("    failover: the survivors' view of two %.3f s after kill -9 (Galera's); first 2xx for an account of "
          "the killed node %.3f s after kill -9, %.3f s after that view; no 2xx at all for %.3f s; %d 2xx, "
          "%d 503s or errors" % (t_evicted - t_kill, pause, moved[0] - t_evicted, gap, len(load.ok), len(load.fail)))
    check(moved[0] - t_evicted < 2, "the dead node's accounts served again within 2 s of the survivors' view "
          "(the health probe's 0.5 s and a client's retry): %.3f s" % (moved[0] - t_evicted))
    others = [t for t, a, kind, _ in load.ok if a not in on_victim and t > t_kill]
    check(others, "the other accounts kept being served")
    # Every 2xx is true on the surviving nodes.
    alive = [n for n in nodes if n is not victim]
    holds = {}
    for _, acct, kind, body in load.ok:
        holds.setdefault(body["hold_id"], set()).add(kind)
    keys = node_sql(alive[0], "SELECT name, value FROM settings WHERE name LIKE 'hold_id_key_%'")
    parts = lib.hold_parts_many(list(holds), keys)     # hold ids are enciphered (sql/044)
    by_row = {"%d_%d" % parts[h]: h for h in holds}
    for n in alive:
        rows = node_sql(n, "SELECT CONCAT(account_id, '_', id), state FROM holds WHERE account_id IN "
                           "(SELECT id FROM accounts WHERE ext_id IN (%s))" % ",".join("'%s'" % a for a in accts),
                       causal=True)
        states = {by_row[r[0]]: r[1] for r in rows if r[0] in by_row}
        for h, kinds in holds.items():
            check(h in states, "hold %s answered 200 exists on node %d" % (h, n["n"]))
            if "settle" in kinds:
                eq(states[h], "settled", "hold %s answered settled is settled on node %d" % (h, n["n"]))
    verify()

    # The node comes back: it rejoins and takes writes again.
    restart_node(victim)
    eq(status(victim, "wsrep_cluster_size"), "3", "three nodes again")
    acct = on_victim[0]
    t0 = time.time()

    def lands():
        b = local_commits([victim])[0]
        eq(authorize(acct, urls()[0]).status, 200, "hold")
        return local_commits([victim])[0] > b
    check(wait_until(lands, timeout=20, step=0.5), "writes land on the rejoined node again")
    print("    rejoin: writes on node %d again %.1f s after it was Synced" % (victim["n"], time.time() - t0))
    verify()


def test_an_account_made_with_a_code_another_node_wrote_a_moment_ago_is_referred():
    # The referrer's code is written on its account's node; the new
    # account is made on its own node, which applies that write a moment
    # later. The creation reads the code causally (wsrep_sync_wait): here
    # the new account's node is held from applying (FLUSH TABLES WITH READ
    # LOCK pauses its applier) while the code is made, and the creation
    # waits for it rather than answer 400 "unknown referral code".
    nodes = galera()
    a = new_account("refa")
    b = next(x for x in (uid("refb") for _ in range(200)) if node_of(x, nodes) != node_of(a, nodes))
    held = nodes[node_of(b, nodes)]
    locker = subprocess.Popen(["mariadb", "--defaults-file=" + held["cnf"], "-N", "-B", "creditd", "-e",
                               "FLUSH TABLES WITH READ LOCK; SELECT SLEEP(2); UNLOCK TABLES"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        check(wait_until(lambda: status(held, "wsrep_local_state_comment") != "Synced", timeout=10, step=0.05),
              "node %d paused" % held["n"])
        r = api("GET", "/v1/accounts/%s/referral_code" % q(a), auth="app")
        eq(r.status, 200, "the referrer's code: %r" % r)
        made = api("POST", "/v1/accounts", {"id": b, "kind": "user", "referral_code": r.json["code"]})
    finally:
        eq(locker.wait(timeout=30), 0, "the lock taken and let go: %r" % locker.stderr.read())
    eq(made.status, 201, "made with the code: %r" % made)
    eq(node_sql(held, "SELECT COUNT(*) FROM referrals f JOIN accounts x ON x.id = f.referred_id WHERE x.ext_id = '%s'"
                % b, causal=True), [["1"]], "its referral recorded")
