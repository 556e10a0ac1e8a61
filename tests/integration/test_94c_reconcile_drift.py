"""test_94c_reconcile_drift.py: the drift creditctl reconcile stores
(docs/reconciliation.md, "What is stored"; sql/077) and the operator's
reads that show it (docs/api.md, "Reconciliation, creditd's side", "GET
/v1/overview").

* A run stores each figure it compared of each UTC day x model (the
  report's figures beside creditd's, and creditd's charge beside what the
  provider's figures cost at creditd's prices, `charged_micros`), under
  its provider (--provider, else the report's format), with when it ran.
* A run again over the same days replaces that provider's rows of them;
  --no-store stores nothing.
* GET /v1/reconcile answers the stored rows of its range beside creditd's
  side (null when none was stored); GET /v1/overview the last seven days'
  drift at a glance."""
from lib import api, check, creditctl, eq, sql
from test_20_guard import funded
from test_65_reconcile import DAY, on_one_day, openai_pages, private_model, reconcile_json, use, write


def stored(day_text, model, provider="openai"):
    r = api("GET", "/v1/reconcile?from=%s&to=%s" % (day_text, day_text), auth="read")
    eq(r.status, 200, "reconcile: %r" % r)
    drift = r.json["drift"] or []
    return {row["dimension"]: row for row in drift if row["model"] == model and row["provider"] == provider}


def report(day, m, requests, inp, cached, out):
    p1, p2 = openai_pages(day, [(m, requests, inp, cached, out)], [])
    return write("p1.json", p1), write("p2.json", p2)


@on_one_day
def test_a_run_stores_what_it_compared_and_the_api_answers_it(day, d):
    m = private_model("drift-api")
    acct = funded(50000000, prefix="drift")
    use(acct, m, [(1000, 200, 300, 300), (2000, 0, 500, 500)])
    eq(stored(d, m), {}, "nothing stored before a run")
    # The provider billed 100 more output tokens than creditd recorded.
    f1, f2 = report(day, m, 2, 3000, 200, 900)
    rc, out = reconcile_json(f1, f2, "--from", d, "--to", d)
    eq(rc, 1, "the output is off by 100 of 900: %r" % out)
    row = [r for r in out["rows"] if r["model"] == m][0]
    got = stored(d, m)
    eq(sorted(got), ["cached_input_tokens", "charged_micros", "input_tokens", "output_tokens", "requests"],
       "every figure compared that either side has, and the money")
    eq({k: (v["provider_value"], v["creditd_value"], v["drift"]) for k, v in got.items()},
       {"requests": (2, 2, 0), "input_tokens": (3000, 3000, 0), "cached_input_tokens": (200, 200, 0),
        "output_tokens": (900, 800, -100),
        "charged_micros": (row["expected_micros"], row["charged_micros"],
                           row["charged_micros"] - row["expected_micros"])},
       "the two sides' figures and creditd's drift against the provider")
    check(all(v["day"] == d for v in got.values()), "the day")
    when = {v["compared_at"] for v in got.values()}
    eq(len(when), 1, "one run: %r" % when)
    ran = sql("SELECT MAX(compared_at) FROM reconcile_drift WHERE model = '%s'" % m)[0][0]
    import time
    eq(when.pop(), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(ran))), "when it ran, as stored")
    # The overview's glance at the last seven days holds this run's drift.
    o = api("GET", "/v1/overview", auth="read")
    eq(o.status, 200, "overview: %r" % o)
    g = o.json["drift"]
    check(g is not None and g["abs_drift_tokens"] >= 100, "the overview's drift counts the 100 tokens: %r" % g)
    want = sql("SELECT CAST(SUM(ABS(creditd_value - provider_value)) AS SIGNED) FROM reconcile_drift "
               "WHERE dimension = 'charged_micros' AND day >= %d" % (day - 6 * DAY))[0][0]
    eq(g["abs_drift_micros"], int(want), "the money's |drift| over seven days, as MariaDB sums it")
    eq(g["since"], time.strftime("%Y-%m-%d", time.gmtime(day - 6 * DAY)), "seven days, today included")


@on_one_day
def test_a_run_again_replaces_the_days_rows_of_its_provider(day, d):
    m = private_model("drift-again")
    acct = funded(50000000, prefix="drift")
    use(acct, m, [(1000, 0, 300, 300)])
    f1, f2 = report(day, m, 1, 1000, 0, 350)
    reconcile_json(f1, f2, "--from", d, "--to", d)
    reconcile_json(f1, f2, "--from", d, "--to", d, "--provider", "azure-east")
    eq(stored(d, m)["output_tokens"]["drift"], -50, "the first run's drift")
    # The corrected report: the day's openai rows are replaced, the other
    # provider's are kept.
    f1, f2 = report(day, m, 1, 1000, 0, 300)
    rc, out = reconcile_json(f1, f2, "--from", d, "--to", d)
    eq(rc, 0, "within: %r" % out)
    eq(stored(d, m)["output_tokens"]["drift"], 0, "the latest run's")
    eq(int(sql("SELECT COUNT(*) FROM reconcile_drift WHERE model = '%s' AND provider = 'openai' "
               "AND dimension = 'output_tokens'" % m)[0][0]), 1, "one row a day x model x dimension")
    eq(stored(d, m, "azure-east")["output_tokens"]["drift"], -50, "another provider's rows stay")


@on_one_day
def test_no_store_stores_nothing(day, d):
    m = private_model("drift-none")
    acct = funded(50000000, prefix="drift")
    use(acct, m, [(1000, 0, 300, 300)])
    f1, f2 = report(day, m, 1, 1000, 0, 400)
    rc, out = reconcile_json(f1, f2, "--from", d, "--to", d, "--no-store")
    eq(rc, 1, "the report is printed as ever: %r" % out)
    eq(stored(d, m), {}, "nothing stored")
    p = creditctl("reconcile", f1, "--provider", "Bad Name", check_rc=False)
    eq(p.returncode, 2, "a provider name out of a-z0-9._-: usage")


@on_one_day
def test_names_that_differ_only_in_case_are_two_rows(day, d):
    # The report's rows are told apart byte for byte: a provider's
    # "DRIFT-CASE-…" beside creditd's "drift-case-…" are two rows, each
    # stored, never one key met twice (a run that stored nothing, printed
    # nothing and exited 1).
    m = private_model("drift-case")
    acct = funded(50000000, prefix="drift")
    use(acct, m, [(1000, 0, 100, 100)])
    p1, p2 = openai_pages(day, [(m, 1, 1000, 0, 100), (m.upper(), 1, 500, 0, 50)], [])
    rc, out = reconcile_json(write("p1.json", p1), write("p2.json", p2), "--from", d, "--to", d)
    check(rc in (0, 1) and "rows" in out, "the report printed: %r" % (out,))
    eq(sorted(stored(d, m)) != [], True, "creditd's model stored")
    eq(sorted(stored(d, m.upper())) != [], True, "the provider's other spelling stored beside it")
