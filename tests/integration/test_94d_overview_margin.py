"""test_94d_overview_margin.py: the overview's margin (docs/api.md, "GET
/v1/overview"; sql/078): a settle's usage record keeps its cost before
creditd's margin (its tokens at the price it was charged, margin 10000
bps, rounded up once as the charge is), and `today` / `month`
`margin_micros` is the sum of what was charged less that cost over the
records that know it; POST /v1/usage's records (priced by the caller)
keep NULL and are not counted."""
from lib import api, eq, sql
from test_65_reconcile import on_one_day, private_model, use

P_IN, P_CACHED, P_OUT = 2000000, 1000000, 8000000


def ceil_div(a, b):
    return -(-a // b)


def margins():
    r = api("GET", "/v1/overview", auth="read")
    eq(r.status, 200, "overview: %r" % r)
    return r.json["today"]["margin_micros"], r.json["month"]["margin_micros"]


@on_one_day
def test_the_margin_of_settled_calls_is_charged_less_cost_before_margin(day, d):
    from test_20_guard import funded
    margin_bps = api("GET", "/v1/models", auth="read").json["margin_bps"]
    m = private_model("margin", inp=P_IN, cached=P_CACHED, out=P_OUT)
    acct = funded(50000000, prefix="margin")
    before = [x or 0 for x in margins()]
    calls = [(1000, 200, 300, 300), (2345, 0, 777, 777), (1501, 500, 251, 251)]
    use(acct, m, calls)
    use(acct, m, [(900, 0, 100, None)])       # POST /v1/usage: priced by its caller, no cost before the margin
    want = 0
    for inp, cached, out, _ in calls:
        raw = (inp - cached) * P_IN + cached * P_CACHED + out * P_OUT
        want += ceil_div(raw * margin_bps, 10 ** 10) - ceil_div(raw, 10 ** 6)
    after = margins()
    eq((after[0] - before[0], after[1] - before[1]), (want, want),
       "today's and the month's margin grew by the calls' (margin %d bps)" % margin_bps)
    rows = sql("SELECT hold_id IS NULL, cost_micros, COALESCE(base_cost_micros, 'NULL') FROM usage_records u "
               "JOIN accounts a ON a.id = u.account_id WHERE a.ext_id = '%s' ORDER BY u.id" % acct)
    eq([r[0] for r in rows], ["0", "0", "0", "1"], "three settles, one POST /v1/usage")
    eq(rows[3][2], "NULL", "POST /v1/usage's record keeps no cost before the margin")
    for (inp, cached, out, _), r in zip(calls, rows):
        raw = (inp - cached) * P_IN + cached * P_CACHED + out * P_OUT
        eq(int(r[2]), ceil_div(raw, 10 ** 6), "the record's cost before the margin")
