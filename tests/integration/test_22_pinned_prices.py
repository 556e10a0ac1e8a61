"""test_22_pinned_prices.py: prices pinned at authorize (DESIGN §9). A hold
records the prices it was priced with and its settle charges at those,
even when the price list changed in between; price changes are kept with
the time they took effect (`creditctl price history MODEL`)."""
import os

import stack
from lib import api, check, creditctl, eq, uid, verify, wait_until
from test_20_guard import account, funded, settle

MARGIN = None


def margin():
    global MARGIN
    if MARGIN is None:
        MARGIN = api("GET", "/v1/models", auth="read").json["margin_bps"]
    return MARGIN


def cost_at(inp, cached, out, input_tokens, output_tokens):
    base = input_tokens * inp + output_tokens * out
    return -(-(base * margin()) // (10 ** 10))


def import_prices(model, inp, cached, out, max_out=4096):
    """Imports one model's price (--force: these tests raise prices far
    beyond the import's default guard of 20 %)."""
    path = stack.path("prices-%s.csv" % uid("p"))
    with open(path, "w") as f:
        f.write("model,%s,%d,%d,%d,%d\n" % (model, inp, cached, out, max_out))
    creditctl("price", "import", path, "--force")
    os.unlink(path)


def listed(model):
    rows = [m for m in api("GET", "/v1/models", auth="read").json["data"] if m["model"] == model]
    return rows[0] if rows else None


def authorize(acct, model, max_output_tokens=400):
    return api("POST", "/v1/guard/authorize", {"account": acct, "model": model, "input_tokens": 1000,
                                               "max_output_tokens": max_output_tokens, "request_id": uid("r")},
               auth="guard")


def test_a_price_raised_between_authorize_and_settle_does_not_change_that_settle():
    model = uid("pin-model")
    import_prices(model, 2000000, 1000000, 8000000)
    acct = funded(50000000, "pin")
    first = authorize(acct, model)
    eq(first.status, 200, "authorize at the first prices: %r" % first)
    eq(first.json["amount_micros"], cost_at(2000000, 1000000, 8000000, 1000, 400), "held at the first prices")
    # The price list changes (tripled output) while the call runs.
    import_prices(model, 2000000, 1000000, 24000000)
    check(wait_until(lambda: listed(model)["output_micros_per_mtok"] == 24000000, timeout=15),
          "creditd sees the new price")
    s = settle(first.json["hold_id"], 1000, 300)
    eq(s.status, 200, "settle")
    eq(s.json["charged_micros"], cost_at(2000000, 1000000, 8000000, 1000, 300),
       "charged at the prices the hold was priced with")
    # A hold made after the change is priced and charged at the new ones.
    second = authorize(acct, model)
    eq(second.json["amount_micros"], cost_at(2000000, 1000000, 24000000, 1000, 400), "held at the new prices")
    s = settle(second.json["hold_id"], 1000, 300)
    eq(s.json["charged_micros"], cost_at(2000000, 1000000, 24000000, 1000, 300), "charged at the new prices")
    # A settle naming another model is charged at that model's price now.
    third = authorize(acct, model)
    import_prices(model, 2000000, 1000000, 30000000)
    gpt = listed("gpt-4o")
    s = settle(third.json["hold_id"], 1000, 300, model="gpt-4o")
    eq(s.json["charged_micros"], cost_at(gpt["input_micros_per_mtok"], gpt["cached_input_micros_per_mtok"],
                                         gpt["output_micros_per_mtok"], 1000, 300),
       "another model named at settle: its current price")
    eq(account(acct)["reserved_micros"], 0, "nothing left held")
    verify()


def test_price_history_keeps_every_change_with_its_time():
    model = uid("hist-model")
    import_prices(model, 1000000, 500000, 4000000)
    import_prices(model, 1000000, 500000, 4000000)          # the same again: no new entry
    import_prices(model, 1500000, 500000, 6000000, 8192)
    p = creditctl("price", "history", model)
    lines = p.stdout.strip().splitlines()
    eq(len(lines), 2, "two prices, the repeat not counted: %r" % lines)
    check("output 4000000" in lines[0] and "output 6000000" in lines[1], "oldest first: %r" % lines)
    check("max_output_tokens 8192" in lines[1], "every field: %r" % lines[1])
    check(lines[0][:4].isdigit() and "T" in lines[0].split()[0] and lines[0].split()[0].endswith("Z"),
          "an RFC 3339 effective time: %r" % lines[0])
    q = creditctl("price", "history", uid("never"), check_rc=False)
    eq(q.returncode, 1, "an unknown model")
    check("no model named" in q.stderr, "says so: %r" % q.stderr)
    gpt = creditctl("price", "history", "gpt-4o").stdout.strip().splitlines()
    check(len(gpt) >= 1, "models priced before the history began have their first entry: %r" % gpt)
