"""test_65_reconcile.py: creditctl reconcile (DESIGN §10). The provider's
usage report (OpenAI's and Anthropic's admin usage pages as their APIs
return them, or a CSV) beside creditd's usage records, per UTC day and
model: exit 0 when every row is within --tolerance-pct, 1 when one is not,
2 on bad input (file and field named, nothing printed); dated snapshots
and aliases map provider names to creditd's models, names nothing maps
are listed; holds that expired unsettled in the period are listed; --json
is DESIGN's object. Every model here is the test's own (priced by the
test), so the stack's other usage is no row of these runs."""
import functools
import json

import stack
from lib import api, check, clock_now, clock_reset, clock_set, creditctl, eq, sql, uid
from test_20_guard import authorize, funded, settle

DAY = 86400


def write(name, content):
    path = stack.path("%s-%s" % (uid("rec"), name))
    with open(path, "w", encoding="utf-8") as f:
        f.write(content if isinstance(content, str) else json.dumps(content))
    return path


def private_model(prefix, inp=2000000, cached=1000000, out=8000000, cache_write=None):
    m = uid(prefix)
    row = {"model": m, "input_micros_per_mtok": inp, "cached_input_micros_per_mtok": cached,
           "output_micros_per_mtok": out, "max_output_tokens": 4096}
    if cache_write is not None:
        row["cache_write_micros_per_mtok"] = cache_write
    path = write("prices.json", [row])
    creditctl("price", "import", path)
    return m


def today():
    """The stack's UTC day (moved to early in the next day when the real
    one is about to end, so that a test's usage stays on one day)."""
    now = clock_now()
    if now % DAY > DAY - 900:
        clock_set(now - now % DAY + DAY + 60)
        now = clock_now()
    day = now - now % DAY
    return day, day_text(day)


def on_one_day(test):
    """Runs test(day, d) on today()'s day, and puts the stack's clock back
    after it: a clock left up to 15 minutes ahead at the end of a UTC day
    made the next tests' webhooks, signed on the real clock, fall outside
    the signature's tolerance."""
    @functools.wraps(test)
    def run():
        try:
            return test(*today())
        finally:
            clock_reset()
    return run


def day_text(day):
    import time
    return time.strftime("%Y-%m-%d", time.gmtime(day))


def reconcile(*args):
    return creditctl("reconcile", *args, check_rc=False)


def reconcile_json(*args):
    p = reconcile(*(args + ("--json",)))
    check(p.returncode in (0, 1), "reconcile ran: %d %s" % (p.returncode, p.stderr))
    return p.returncode, json.loads(p.stdout)


def beyond(tokens):
    """A side's figures: its tokens, and nothing billed beyond them."""
    return dict(tokens, cache_write_1h_tokens=0, audio_input_tokens=0, audio_output_tokens=0, web_search_calls=0,
                priority_tokens=0, flex_tokens=0, long_context_tokens=0)


def row_of(out, model):
    rows = [r for r in out["rows"] if r["model"] == model]
    eq(len(rows), 1, "one row for %s: %r" % (model, out["rows"]))
    return rows[0]


def use(acct, model, calls):
    """calls: (input, cached, output, recorded_output[, cache_write])
    through authorize and settle, or (input, cached, output, None[,
    cache_write]) through POST /v1/usage."""
    for inp, cached, out, recorded, *rest in calls:
        cw = {"cache_write_input_tokens": rest[0]} if rest else {}
        if recorded is None:
            r = api("POST", "/v1/usage", dict({"account": acct, "model": model, "input_tokens": inp,
                                               "cached_input_tokens": cached, "output_tokens": out}, **cw),
                    auth="guard")
            eq(r.status, 200, "usage: %r" % r)
            continue
        a = authorize(acct, model=model, input_tokens=inp, max_output_tokens=max(out, 1))
        eq(a.status, 200, "authorize: %r" % a)
        s = settle(a.json["hold_id"], inp, recorded, cached_input_tokens=cached, **cw)
        eq(s.status, 200, "settle: %r" % s)


def openai_pages(day, results_page1, results_page2):
    def bucket(results):
        return {"object": "bucket", "start_time": day, "end_time": day + DAY, "results": [
            {"object": "organization.usage.completions.result", "input_tokens": i, "output_tokens": o,
             "input_cached_tokens": c, "input_audio_tokens": 0, "output_audio_tokens": 0,
             "num_model_requests": n, "project_id": None, "user_id": None, "api_key_id": None,
             "model": m, "batch": None, "service_tier": None} for m, n, i, c, o in results]}
    p1 = {"object": "page", "data": [bucket(results_page1)], "has_more": True, "next_page": "page_AAAAAGdGxdEA"}
    p2 = {"object": "page", "data": [bucket(results_page2)], "has_more": False, "next_page": None}
    return p1, p2


@on_one_day
def test_a_ledger_that_matches_exactly_is_ok(day, d):
    m = private_model("rec-exact")
    acct = funded(50000000, prefix="rec")
    calls = [(1000, 200, 300, 300), (2000, 0, 500, 500), (1500, 500, 250, 250), (800, 0, 100, None),
             (700, 100, 50, None)]
    use(acct, m, calls)
    half = 3
    sums = [(len(part), sum(c[0] for c in part), sum(c[1] for c in part), sum(c[2] for c in part))
            for part in (calls[:half], calls[half:])]
    # Page one has the model's own name, page two its dated snapshot: both
    # are the model's (a snapshot maps to its model), in pages of one report.
    p1, p2 = openai_pages(day, [(m,) + sums[0]], [(m + "-2024-08-06",) + sums[1]])
    f1, f2 = write("p1.json", p1), write("p2.json", p2)
    rc, out = reconcile_json(f2, f1, "--from", d, "--to", d)
    eq(rc, 0, "every row within tolerance: %r" % out)
    eq(out["ok"], True, "ok")
    r = row_of(out, m)
    want = {"requests": 5, "input_tokens": 6000, "cached_input_tokens": 800, "cache_write_input_tokens": 0,
            "output_tokens": 1200}
    eq(r["provider"], beyond(want), "the provider's figures")
    eq(r["creditd"], beyond(want), "creditd's usage records")
    eq(r["drift_pct"], dict({k: None for k in beyond({})}, requests=0, input_tokens=0, cached_input_tokens=0,
                            cache_write_input_tokens=None, output_tokens=0),
       "no drift (a figure the provider has as 0, OpenAI's cache writes: null)")
    eq(r["by_settle_reason"], {"provider_usage": 0, "client_gone": 0, "estimated": 0, "provider_error": 0},
       "no gateway call")
    eq(r["day"], d, "the day")
    check(r["expected_micros"] <= r["charged_micros"] <= r["expected_micros"] + len(calls),
          "charged is the expected cost (each call rounded up once): %r" % r)
    check(r["within_tolerance"] is True, "within")
    eq(out["unmatched_models"], [], "every name matched")
    # The text table says the same, and exits the same.
    p = reconcile(f1, f2, "--from", d, "--to", d)
    eq(p.returncode, 0, "text: %s" % p.stderr)
    check(m in p.stdout, "the model's row is printed")


@on_one_day
def test_missed_output_tokens_exit_1_with_the_drift(day, d):
    m = private_model("rec-miss")
    acct = funded(50000000, prefix="rec")
    # A stream whose settle recorded no output: 30 of the day's 1000 output
    # tokens (3 %) were never charged.
    use(acct, m, [(1000, 0, 970, 970), (1000, 0, 30, 0)])
    path = write("usage.csv", "date,model,input_tokens,cached_input_tokens,output_tokens,requests\n"
                              "%s,%s,2000,0,1000,2\n" % (d, m))
    rc, out = reconcile_json(path, "--from", d, "--to", d)
    eq(rc, 1, "a row outside the tolerance")
    eq(out["ok"], False, "not ok")
    r = row_of(out, m)
    eq(r["within_tolerance"], False, "that row")
    eq(r["provider"]["output_tokens"], 1000, "provider output")
    eq(r["creditd"]["output_tokens"], 970, "creditd output")
    eq(r["drift_pct"]["output_tokens"], -3.0, "creditd 3 % under the provider")
    eq(r["drift_pct"]["input_tokens"], 0, "input matches")
    check(r["expected_micros"] > r["charged_micros"], "creditd charged less than the provider's tokens cost")
    rc, out = reconcile_json(path, "--from", d, "--to", d, "--tolerance-pct", "5")
    eq(rc, 0, "within 5 %")
    eq(out["tolerance_pct"], 5, "the tolerance used")


def anthropic_page(day, results):
    return {"data": [{"starting_at": day_text(day) + "T00:00:00Z", "ending_at": day_text(day + DAY) + "T00:00:00Z",
                      "results": [{"uncached_input_tokens": u, "cache_creation": {"ephemeral_1h_input_tokens": 0,
                                                                                  "ephemeral_5m_input_tokens": w},
                                   "cache_read_input_tokens": c, "output_tokens": o,
                                   "server_tool_use": {"web_search_requests": 0}, "api_key_id": None,
                                   "workspace_id": None, "model": m, "service_tier": None,
                                   "context_window": None} for m, u, w, c, o in results]}],
            "has_more": False, "next_page": None}


@on_one_day
def test_a_name_only_an_alias_matches(day, d):
    m = private_model("rec-alias")
    acct = funded(50000000, prefix="rec")
    use(acct, m, [(1200, 300, 400, 400, 100)])
    provider_name = uid("vendor-name")
    # 1200 input = 800 uncached + 100 written to the cache + 300 read from it.
    path = write("anthropic.json", anthropic_page(day, [(provider_name, 800, 100, 300, 400)]))
    rc, out = reconcile_json(path, "--from", d, "--to", d)
    eq(out["unmatched_models"], [provider_name], "no alias yet: listed")
    eq(rc, 1, "its row has no creditd side")
    eq(creditctl("price", "alias", provider_name, m).returncode, 0, "alias")
    rc, out = reconcile_json(path, "--from", d, "--to", d)
    eq(rc, 0, "matched through the alias: %r" % out)
    r = row_of(out, m)
    eq(r["provider"], beyond({"requests": 0, "input_tokens": 1200, "cached_input_tokens": 300,
                              "cache_write_input_tokens": 100, "output_tokens": 400}), "Anthropic's tokens, cache reads and writes counted as input")
    eq(r["creditd"]["cache_write_input_tokens"], 100, "the settle's cache writes")
    eq(r["creditd"]["requests"], 1, "creditd's call")
    eq(r["drift_pct"]["requests"], None, "Anthropic's report counts no requests")
    eq(out["unmatched_models"], [], "nothing unmatched")
    p = creditctl("price", "alias", provider_name, uid("no-such-model"), check_rc=False)
    eq(p.returncode, 1, "an alias to a model creditd does not price is refused")


@on_one_day
def test_a_model_creditd_never_saw_is_listed(day, d):
    never = uid("gpt-never-seen")
    path = write("usage.csv", "%s,%s,100,0,10\n" % (d, never))
    rc, out = reconcile_json(path, "--format", "csv", "--from", d, "--to", d)
    eq(out["unmatched_models"], [never], "listed, not dropped")
    r = row_of(out, never)
    eq(r["creditd"], beyond({"requests": 0, "input_tokens": 0, "cached_input_tokens": 0, "cache_write_input_tokens": 0,
                             "output_tokens": 0}), "zeros on creditd's side")
    eq(r["expected_micros"], None, "no price")
    eq(rc, 1, "usage creditd never charged is outside the tolerance")


@on_one_day
def test_csv_is_read_as_rfc_4180(day, d):
    """Quoted fields ("" a quote, a comma or a line break inside), CRLF
    line ends, a byte order mark, a quoted header after a comment line and
    comment lines read as the plain file does; a quote left open, text
    after a closing one or a lone carriage return is named with its file
    and the line it is on (a record's: the line it starts on)."""
    never = uid("gpt-csv")
    plain = write("plain.csv", "%s,%s,100,20,10,3\n%s,%s-b,7,0,1\n" % (d, never, d, never))
    quoted = write("quoted.csv", '\ufeff# exported by a spreadsheet\r\n'
                   '"date","model","input_tokens","cached_input_tokens","output_tokens","requests"\r\n'
                   '# a "comment", with a comma\r\n'
                   '"%s","%s","100",20,"10","3"\r\n\r\n%s,"%s-b",7,0,1' % (d, never, d, never))
    rc_p, out_p = reconcile_json(plain, "--format", "csv", "--from", d, "--to", d)
    rc_q, out_q = reconcile_json(quoted, "--format", "csv", "--from", d, "--to", d)
    eq((rc_q, out_q["rows"]), (rc_p, out_p["rows"]), "the quoted file reads as the plain one")
    eq(sorted(out_q["unmatched_models"]), sorted([never, never + "-b"]), "both models read")
    for text, line, why in (('%s,"%s,x",1,0,1\n' % (d, never), 1, "not a model name"),
                            ('date,model,input_tokens,cached_input_tokens,output_tokens\n%s,%s,1,0,1\n'
                             '%s,"open,1,0,1\n' % (d, never, d), 3, "not closed"),
                            ('%s,"%s\nz",1,0,1\n' % (d, never), 1, "not a model name"),
                            ('\n%s,"%s"x,1,0,1\n' % (d, never), 2, "after a closing quote"),
                            ('%s,%s,1"0,0,1\n' % (d, never), 1, "a quote inside"),
                            ('%s,%s,1,0,1\n%s,%s,1,0,1\r%s,x,1,0,1\n' % (d, never, d, never, d), 2,
                             "a carriage return without a line feed")):
        bad = write("bad.csv", text)
        p = reconcile(bad, "--format", "csv")
        eq(p.returncode, 2, "refused: %r: %s" % (text, p.stderr))
        check("%s:%d:" % (bad, line) in p.stderr and why in p.stderr, "file, line and why: %s" % p.stderr)
        eq(p.stdout, "", "nothing printed")


@on_one_day
def test_bad_input_exit_2_naming_file_and_field(day, d):
    p1, _ = openai_pages(day, [("gpt-4o", 1, 10, 0, 5)], [])
    p1["data"][0]["results"][0]["output_tokens"] = "5"
    bad = write("bad.json", p1)
    p = reconcile(bad)
    eq(p.returncode, 2, "bad input: %s" % p.stderr)
    check(bad in p.stderr and "data[0].results[0].output_tokens" in p.stderr, "file and field named: " + p.stderr)
    eq(p.stdout, "", "nothing printed as a result")
    csv = write("bad.csv", "date,model,input_tokens,cached_input_tokens,output_tokens\n%s,m,1,0,x\n" % d)
    p = reconcile(csv, "--json")
    eq(p.returncode, 2, "bad CSV")
    check(csv + ":2" in p.stderr and "output_tokens" in p.stderr, "file, line and field named: " + p.stderr)
    eq(p.stdout, "", "nothing printed")
    # The same day × model in two files is refused, the file named.
    a = write("a.csv", "%s,gpt-4o,10,0,1\n" % d)
    b = write("b.csv", "%s,gpt-4o,10,0,1\n" % d)
    p = reconcile(a, b)
    eq(p.returncode, 2, "a bucket given twice")
    check(b in p.stderr or a in p.stderr, "a file named: " + p.stderr)
    eq(p.stdout, "", "nothing printed")
    eq(reconcile(a, "--tolerance-pct", "x").returncode, 2, "usage")


def test_expired_unsettled_holds_of_the_period_are_listed():
    try:
        day, d = today()
        m = private_model("rec-hold")
        acct = funded(50000000, prefix="rec")
        a = authorize(acct, model=m, input_tokens=100, max_output_tokens=100, ttl_seconds=5)
        eq(a.status, 200, "authorize")
        now = clock_now()
        clock_set(now + 30)
        expired_day = (now + 5) - (now + 5) % DAY
        path = write("empty.csv", "date,model,input_tokens,cached_input_tokens,output_tokens\n")
        ed = day_text(expired_day)
        rc, out = reconcile_json(path, "--from", d, "--to", ed)
        holds = [h for h in out["expired_holds"] if h["hold_id"] == a.json["hold_id"]]
        eq(len(holds), 1, "listed: %r" % out["expired_holds"])
        eq(sorted(holds[0]), ["account", "expired_at", "hold_id", "model"], "hold fields")
        eq((holds[0]["account"], holds[0]["model"]), (acct, m), "whose and which model")
        eq(rc, 0, "no row, so within tolerance")
    finally:
        clock_reset()


@on_one_day
def test_json_is_designs_object(day, d):
    m = private_model("rec-shape")
    acct = funded(50000000, prefix="rec")
    use(acct, m, [(100, 0, 10, None)])
    path = write("shape.csv", "%s,%s,100,0,10,1\n" % (d, m))
    rc, out = reconcile_json(path, "--from", d, "--to", d)
    eq(rc, 0, "ok")
    eq(sorted(out), ["expired_holds", "ok", "rows", "tolerance_pct", "unmatched_models"], "top-level keys")
    eq(out["tolerance_pct"], 1, "default tolerance")
    r = row_of(out, m)
    eq(sorted(r), ["by_settle_reason", "charged_micros", "creditd", "day", "drift_pct", "expected_micros", "model",
                   "provider", "within_tolerance"], "row keys")
    fields = ["audio_input_tokens", "audio_output_tokens", "cache_write_1h_tokens", "cache_write_input_tokens",
              "cached_input_tokens", "flex_tokens", "input_tokens", "long_context_tokens", "output_tokens",
              "priority_tokens", "requests", "web_search_calls"]
    for side in ("provider", "creditd", "drift_pct"):
        eq(sorted(r[side]), fields, side + " keys")
    eq(r["drift_pct"]["web_search_calls"], None, "a CSV of five to seven fields reports nothing beyond tokens")
    eq(sorted(r["by_settle_reason"]), ["client_gone", "estimated", "provider_error", "provider_usage"],
       "every settle reason counted")
    check(isinstance(r["expected_micros"], int) and isinstance(r["charged_micros"], int), "micros are integers")


# ---- cache writes and settle reasons (DESIGN §12) ----

def batch_usages(acct, model, now, rows):
    """Usage records as the gateway's settles write them, through the batch
    write procedure itself (CALL cd_batch_write, sql/034; no /v1 route sets
    a settle_reason): rows of (input, cached, cache_write, output,
    settle_reason), cost 0 (no journal row to match)."""
    aid = int(sql("SELECT id FROM accounts WHERE ext_id = '%s'" % acct)[0][0])
    usages = [[aid, None, None, None, model, None, i, c, o, 0, 0, uid("r"), None, None, w, why]
              for i, c, w, o, why in rows]
    sql("CALL cd_batch_write(%d, 1, NULL, NULL, '%s', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)"
        % (now, json.dumps(usages)))


@on_one_day
def test_calls_are_counted_by_settle_reason(day, d):
    m = private_model("rec-reason")
    acct = funded(50000000, prefix="rec")
    use(acct, m, [(1000, 0, 100, 100)])                       # the guard's own: no reason
    batch_usages(acct, m, clock_now(), [(1000, 0, 0, 100, "provider_usage"), (1000, 0, 0, 100, "provider_usage"),
                                        (1000, 0, 0, 100, "client_gone"), (1000, 0, 0, 60, "estimated"),
                                        (1000, 0, 0, 0, "provider_error")])
    # The provider billed 500 output tokens where creditd recorded 460: the
    # estimated call was charged 60 of its 100. The row says which calls
    # were estimated: where drift should come from (DESIGN §12).
    path = write("usage.csv", "%s,%s,6000,0,500,6\n" % (d, m))
    rc, out = reconcile_json(path, "--from", d, "--to", d)
    r = row_of(out, m)
    eq(r["creditd"]["requests"], 6, "every call")
    eq(r["by_settle_reason"], {"provider_usage": 2, "client_gone": 1, "estimated": 1, "provider_error": 1},
       "the gateway's calls by reason")
    eq((rc, r["drift_pct"]["output_tokens"], r["drift_pct"]["input_tokens"]), (1, -8.0, 0), "the output drift")
    p = reconcile(path, "--from", d, "--to", d)
    check("settled by reason: provider_usage 2, client_gone 1, estimated 1, provider_error 1" in p.stdout,
          "the text table says so under the row: %r" % p.stdout)


@on_one_day
def test_cache_writes_are_reconciled_and_priced_at_their_price(day, d):
    m = private_model("rec-cw", inp=3000000, cached=300000, out=15000000, cache_write=3750000)
    acct = funded(50000000, prefix="rec")
    # 1200 input: 800 uncached + 100 written to the cache + 300 read.
    use(acct, m, [(1200, 300, 400, 400, 100), (1000, 0, 100, None, 1000)])
    path = write("anthropic.json", anthropic_page(day, [(m, 800, 1100, 300, 500)]))
    rc, out = reconcile_json(path, "--from", d, "--to", d)
    eq(rc, 0, "within tolerance: %r" % out)
    r = row_of(out, m)
    eq(r["provider"]["cache_write_input_tokens"], 1100, "Anthropic's cache creation tokens")
    eq(r["creditd"]["cache_write_input_tokens"], 1100, "creditd's cache writes")
    eq(r["drift_pct"]["cache_write_input_tokens"], 0, "no drift")
    bps = api("GET", "/v1/models", auth="read").json["margin_bps"]
    base = 800 * 3000000 + 300 * 300000 + 1100 * 3750000 + 500 * 15000000
    eq(r["expected_micros"], -(-base * bps // 10 ** 10), "the provider's tokens, cache writes at their price")
    check(r["expected_micros"] <= r["charged_micros"] <= r["expected_micros"] + 2, "charged the same: %r" % r)
    # Cache writes the app did not report are drift, and cost.
    path = write("anthropic2.json", anthropic_page(day, [(m, 800, 2100, 300, 500)]))
    rc, out = reconcile_json(path, "--from", d, "--to", d)
    r = row_of(out, m)
    eq(rc, 1, "outside the tolerance")
    eq(r["drift_pct"]["cache_write_input_tokens"], -47.62, "1100 of 2100 cache writes recorded")
    # A CSV may carry them as a 7th column.
    path = write("cw.csv", "date,model,input_tokens,cached_input_tokens,output_tokens,requests,"
                           "cache_write_input_tokens\n%s,%s,2200,300,500,2,1100\n" % (d, m))
    rc, out = reconcile_json(path, "--from", d, "--to", d)
    eq((rc, row_of(out, m)["provider"]["cache_write_input_tokens"]), (0, 1100), "read from the CSV")
    bad = write("cwbad.csv", "%s,%s,2200,300,500,2,2000\n" % (d, m))
    p = reconcile(bad)
    eq(p.returncode, 2, "cache writes above input less cached: bad input")
    check("cache_write_input_tokens" in p.stderr and bad + ":1" in p.stderr, "named: %r" % p.stderr)
