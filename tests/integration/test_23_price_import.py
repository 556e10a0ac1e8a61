"""test_23_price_import.py: price sync with a guard (DESIGN §9).
`creditctl price import` reads the CSV list or a JSON catalogue (a list in
micros per million tokens, or per-token prices as public catalogues
publish them, converted exactly); a rise above --max-increase-pct (20 by
default) refuses the whole import unless --force; --dry-run prints the
changes and changes nothing; a bad entry is named and nothing is
imported."""
import json

import stack
from lib import api, check, creditctl, eq, uid, wait_until


def write(name, content):
    path = stack.path("%s-%s" % (uid("cat"), name))
    with open(path, "w") as f:
        f.write(content if isinstance(content, str) else json.dumps(content))
    return path


def stored(model):
    rows = [m for m in api("GET", "/v1/models", auth="read").json["data"] if m["model"] == model]
    return rows[0] if rows else None


def history(model):
    p = creditctl("price", "history", model, check_rc=False)
    return p.stdout.strip().splitlines() if p.returncode == 0 else []


def run(*args):
    return creditctl("price", "import", *args, check_rc=False)


def test_a_json_list_in_micros_imports():
    m1, m2 = uid("jl-a"), uid("jl-b")
    path = write("list.json", [
        {"model": m1, "input_micros_per_mtok": 3000000, "cached_input_micros_per_mtok": 300000,
         "output_micros_per_mtok": 15000000, "max_output_tokens": 64000},
        {"model": m2, "input_micros_per_mtok": 500000, "cached_input_micros_per_mtok": 500000,
         "output_micros_per_mtok": 1500000, "max_output_tokens": 4096}])
    p = run(path)
    eq(p.returncode, 0, "imported: %s" % p.stderr)
    check(wait_until(lambda: stored(m1) is not None and stored(m2) is not None, timeout=15), "creditd lists them")
    eq(stored(m1)["output_micros_per_mtok"], 15000000, "as given")


def test_per_token_prices_are_converted_exactly():
    m = uid("usd")
    text = '{"%s": {"input_cost_per_token": 2.5e-06, "output_cost_per_token": 0.00001, ' \
           '"cache_read_input_token_cost": 1.25e-06, "max_output_tokens": 16384, "litellm_provider": "x"}}' % m
    p = run(write("catalogue.json", text))
    eq(p.returncode, 0, "imported: %s" % p.stderr)
    check(wait_until(lambda: stored(m) is not None, timeout=15), "listed")
    got = stored(m)
    eq((got["input_micros_per_mtok"], got["cached_input_micros_per_mtok"], got["output_micros_per_mtok"],
        got["max_output_tokens"]), (2500000, 1250000, 10000000, 16384), "exact micros per million tokens")
    # No cache price: the input price; max_tokens stands for max_output_tokens.
    m2 = uid("usd")
    p = run(write("c2.json", '{"%s": {"input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05, '
                             '"max_tokens": 8192}}' % m2))
    eq(p.returncode, 0, "imported: %s" % p.stderr)
    check(wait_until(lambda: stored(m2) is not None, timeout=15), "listed")
    eq(stored(m2)["cached_input_micros_per_mtok"], 3000000, "cached = input when the catalogue has none")


def test_a_rise_above_the_limit_is_refused_whole_unless_forced():
    a, b = uid("guard-a"), uid("guard-b")
    eq(run(write("p.csv", "model,%s,1000000,500000,4000000,4096\nmodel,%s,1000000,500000,4000000,4096\n"
                 % (a, b))).returncode, 0, "first prices")
    before = (history(a), history(b))
    # b rises 10 % (fine), a's output 50 % (not): nothing at all is imported.
    rise = write("rise.csv", "model,%s,1100000,500000,4000000,4096\nmodel,%s,1000000,500000,6000000,4096\n" % (b, a))
    p = run(rise)
    eq(p.returncode, 1, "refused")
    check(a in p.stderr and "output" in p.stderr and "4000000" in p.stderr and "6000000" in p.stderr and
          "nothing imported" in p.stderr, "names the model, the field and the prices: %r" % p.stderr)
    eq((history(a), history(b)), before, "nothing changed, not even the 10 % rise")
    p = run(rise, "--max-increase-pct", "60")
    eq(p.returncode, 0, "allowed with a higher limit: %s" % p.stderr)
    eq(len(history(a)), 2, "a's new price entered its history")
    # --force takes any rise.
    p = run(write("big.csv", "model,%s,9000000,500000,4000000,4096\n" % a), "--force")
    eq(p.returncode, 0, "forced")
    eq(len(history(a)), 3, "and the forced one")


def test_dry_run_prints_the_changes_and_changes_nothing():
    a = uid("dry")
    eq(run(write("p.csv", "model,%s,1000000,500000,4000000,4096\n" % a)).returncode, 0, "first prices")
    new = uid("dry-new")
    path = write("d.csv", "model,%s,1000000,500000,4400000,4096\nmodel,%s,1,1,1,1\n" % (a, new))
    p = run(path, "--dry-run")
    eq(p.returncode, 0, "a dry run: %s" % p.stderr)
    check("%s: input 1000000 -> 1000000" % a in p.stdout and "output 4000000 -> 4400000" in p.stdout,
          "the change printed: %r" % p.stdout)
    check("%s: new" % new in p.stdout and "nothing imported" in p.stdout, "a new model and the verdict: %r" % p.stdout)
    eq(len(history(a)), 1, "nothing imported")
    eq(history(new), [], "not the new model either")
    p = run(write("d2.csv", "model,%s,1000000,500000,9000000,4096\n" % a), "--dry-run")
    eq(p.returncode, 1, "a dry run still says the rise is too large")


def test_a_bad_entry_is_named_and_nothing_is_imported():
    good, bad = uid("ok"), uid("bad")
    cases = [
        ([{"model": good, "input_micros_per_mtok": 1, "cached_input_micros_per_mtok": 1,
           "output_micros_per_mtok": 1, "max_output_tokens": 1},
          {"model": bad, "input_micros_per_mtok": "1", "cached_input_micros_per_mtok": 1,
           "output_micros_per_mtok": 1, "max_output_tokens": 1}], "entry 2 (%s)" % bad),
        ("[1, 2", "not JSON"),
    ]
    for content, says in cases:
        p = run(write("bad.json", content))
        eq(p.returncode, 1, "refused: %r" % (content,))
        check(says in p.stderr and "nothing imported" in p.stderr, "says %r: %r" % (says, p.stderr))
    eq(history(good), [], "the good entry before the bad one was not imported")
    p = run(write("bad.csv", "model,%s,1,1,1,1\nmodel,%s,1,x,1,1\n" % (good, bad)))
    eq(p.returncode, 1, "a bad CSV line")
    check(":2:" in p.stderr, "names the line: %r" % p.stderr)
    eq(history(good), [], "nothing imported")


def test_a_catalogue_entry_creditd_cannot_price_is_skipped_and_named():
    """LiteLLM's catalogue imports as it is (DESIGN §14): an entry that is
    not a model priced per token, or that creditd cannot price exactly, is
    skipped and named with why; the others are imported."""
    good, fine, short, odd = uid("ok"), uid("fine"), uid("short"), uid("odd")
    text = ('{"%s": {"input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06, "max_output_tokens": 10}, '
            '"%s": {"input_cost_per_token": 1e-15, "output_cost_per_token": 2e-06, "max_output_tokens": 10}, '
            '"%s": {"output_cost_per_token": 2e-06, "max_output_tokens": 10}, "%s": 5}' % (good, fine, short, odd))
    p = run(write("skip.json", text))
    eq(p.returncode, 0, "imported: %s" % p.stderr)
    for name, why in ((fine, "input_cost_per_token is not a price in whole micros per million tokens"),
                      (short, "input_cost_per_token is missing"), (odd, "not an object")):
        check("  %s: %s" % (name, why) in p.stdout, "%s skipped, saying why: %r" % (name, p.stdout))
    check("skipped 3 catalogue entries" in p.stdout and "imported 1 price rows" in p.stdout, "counted: %r" % p.stdout)
    eq(len(history(good)), 1, "the good entry was imported")
    eq((history(fine), history(short), history(odd)), ([], [], []), "the others were not")


def test_a_model_just_imported_is_found_by_every_first_request_at_once():
    """Many first requests for a model the daemon's cache does not know
    yet, at once, while the reload is slow (the models table locked for a
    moment): the misses wait for the reload in flight and look again; none
    is refused 'unknown model' because the others spent the miss reloads'
    quota (LIMIT_PRICE_MISS_RELOADS) before that reload ended."""
    import subprocess
    import time
    from lib import ENV, new_account, parallel
    from test_20_guard import authorize
    m = uid("burst")
    eq(run(write("burst.csv", "model,%s,1000000,0,2000000,4096\n" % m)).returncode, 0, "imported")
    acct = new_account("burst")
    cnf = ENV["CREDITD_STACK_DIR"] + "/my.cnf"
    locker = subprocess.Popen(["mariadb", "--defaults-file=" + cnf, "creditd", "-e",
                               "LOCK TABLES models WRITE; SELECT SLEEP(1.5); UNLOCK TABLES"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(0.3)
    got = parallel(40, lambda i: authorize(acct, model=m, input_tokens=10, max_output_tokens=10))
    eq(locker.wait(timeout=30), 0, "the lock was taken and let go: %r" % locker.stderr.read())
    eq([(r.status, r.json.get("error")) for r in got if r.status != 200][:2], [],
       "every first request for %s authorized" % m)


def test_the_price_list_of_a_creditd_just_started_is_whole():
    """GET /v1/models from a creditd whose background thread has not
    loaded the prices yet (the models table locked while it starts): the
    request loads them itself, or waits for the load, and answers the whole
    list, never an empty one with 200 (a client reading it right after a
    restart found no model at all)."""
    import subprocess
    import threading
    import time
    from lib import ENV
    cnf = ENV["CREDITD_STACK_DIR"] + "/my.cnf"
    want = sorted(m["model"] for m in api("GET", "/v1/models", auth="read").json["data"])
    check(len(want) >= 3, "the stack's list: %r" % want)
    locker = subprocess.Popen(["mariadb", "--defaults-file=" + cnf, "creditd", "-e",
                               "LOCK TABLES models WRITE; SELECT SLEEP(2); UNLOCK TABLES"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(0.3)
    stack.creditd_kill9()
    got = {}
    try:
        stack.creditd_start()       # /healthz answers: it reads no price
        t = threading.Thread(target=lambda: got.update(r=api("GET", "/v1/models", auth="read")))
        t.start()
        t.join(timeout=30)
    finally:
        eq(locker.wait(timeout=30), 0, "the lock was taken and let go: %r" % locker.stderr.read())
    r = got.get("r")
    check(r is not None, "an answer")
    eq(r.status, 200, "the list: %r" % r.raw[:200])
    eq(sorted(m["model"] for m in r.json["data"]), want, "the whole list")


def miss_reloads():
    import re
    text = api("GET", "/metrics", auth=None).raw.decode()
    return int(re.search(r'^creditd_price_miss_reloads_total (\d+)$', text, re.M).group(1))


def test_a_price_miss_waits_for_the_reload_thread_and_opens_no_transaction():
    """A request naming a model or an action the daemon's cache does not
    know asks the reload thread for a reload and waits for it: its own
    connection makes no round trip for prices, neither for a name priced
    nowhere (answered 'unknown' as before) nor for one priced a moment ago
    by creditctl price set (found by that next request, as before)."""
    import time
    from lib import new_account
    from test_17_batch_calls import _key_use_noted, _trips
    from test_20_guard import authorize
    acct = new_account("miss")
    _key_use_noted()
    m, a = uid("miss"), uid("miss-act")
    # The misses below in fresh windows of the miss quota
    # (LIMIT_PRICE_MISS_RELOAD_MS), so each may have a reload.
    time.sleep(1.1)
    asked = miss_reloads()
    r, trips = _trips("authorize", lambda: authorize(acct, model=m, input_tokens=10, max_output_tokens=10))
    eq((r.status, r.json.get("error", {}).get("message")), (400, "unknown model '%s'" % m), "priced nowhere")
    eq(trips, 0, "the miss's round trips on the request's own connection")
    eq(miss_reloads() - asked, 1, "the reload it asked for, counted")
    time.sleep(1.1)
    r, trips = _trips("authorize", lambda: api("POST", "/v1/guard/authorize",
                                               {"account": acct, "action": a, "request_id": uid("req")},
                                               auth="guard"))
    eq((r.status, r.json.get("error", {}).get("message")), (400, "unknown action '%s'" % a), "an action priced nowhere")
    eq(trips, 0, "the action's miss's round trips on the request's own connection")
    creditctl("price", "set", m, "input=1000000", "cached_input=100000", "output=2000000", "max_output_tokens=4096")
    r, trips = _trips("authorize", lambda: authorize(acct, model=m, input_tokens=10, max_output_tokens=10))
    eq(r.status, 200, "a model priced a moment ago is found by the next request: %r" % r.raw[:200])
    # An account's first authorize is its read and its write (2, seen 3
    # once on a loaded machine); a reload would add its three SELECTs and
    # its COMMIT.
    check(trips <= 3, "the found miss's round trips are an authorize's, no reload among them: %d" % trips)
