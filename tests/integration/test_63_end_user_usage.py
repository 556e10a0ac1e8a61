"""test_63_end_user_usage.py: usage in the end user's hands (DESIGN §11).

Each journal row of cause usage carries the usage record of its charge
(model, tokens, member, byok), other rows `usage: null`, on both
transaction routes, for one statement per page whatever its size;
GET /v1/me/usage is the account's usage report; a browser token may name a
member, which then sees the pool's available credit, its own cap and
spend, its own usage rows and sums only, and cannot top up."""
import re

from lib import account, api, check, eq, new_account, uid, wait_until
from test_20_guard import authorize, cost, settle
from test_58_browser_tokens import me, mint, token

FROM, TO = "2000-01-01", "2100-01-01"     # every row, the same window on both routes


def member_put(ws, member, **fields):
    r = api("POST", "/v1/accounts/%s/members" % ws, dict(fields, member=member))
    check(r.status in (200, 201), "member %s: %r" % (member, r))
    return r.json


def usage_call(acct, model="gpt-4o", inp=0, out=0, cached=0, **extra):
    body = {"account": acct, "model": model, "input_tokens": inp, "output_tokens": out,
            "cached_input_tokens": cached}
    body.update(extra)
    r = api("POST", "/v1/usage", body, auth="guard")
    eq(r.status, 200, "usage %r" % r)
    return r.json


def workspace():
    """A workspace with ann (capped), bob (no cap) and their calls: a settle
    and a direct call of ann's, a pending hold of ann's, a direct call of
    bob's, one without a member, a byok call (no charge, no row) and a
    grant. Returns (ws, the usage each charge's row must carry, newest
    first, with the charge, and ann's pending hold)."""
    ws = new_account("eu", kind="workspace")
    member_put(ws, "ann", monthly_cap_micros=200000)
    member_put(ws, "bob")
    a = authorize(ws, "gpt-4o", 4000, 1500, member="ann")
    eq(a.status, 200, "ann's hold %r" % a)
    s = settle(a.json["hold_id"], 4000, 600, cached_input_tokens=1500)
    eq(s.status, 200, "ann's settle %r" % s)
    eq(s.json["charged_micros"], cost("gpt-4o", 4000, 600, cached=1500), "settle charge")
    ann_direct = usage_call(ws, "claude-sonnet-4-20250514", 2000, 300, 100, member="ann", request_id=uid("u"))
    bob_direct = usage_call(ws, "gpt-4o", 1000, 50, member="bob", request_id=uid("u"))
    nobody = usage_call(ws, "gpt-4o", 500, 20, request_id=uid("u"))
    byok = usage_call(ws, "gpt-4o", 700, 70, member="ann", byok=True, request_id=uid("u"))
    eq(byok["charged_micros"], 0, "byok is not charged (no journal row)")
    g = api("POST", "/v1/accounts/%s/grants" % ws, {"amount_micros": 5000, "source": "promo"})
    eq(g.status, 201, "grant %r" % g)
    pending = authorize(ws, "gpt-4o", 1000, 1000, member="ann")
    eq(pending.status, 200, "ann's pending hold")

    def u(model, inp, cached, out, member):
        return {"model": model, "input_tokens": inp, "cached_input_tokens": cached, "cache_write_input_tokens": 0,
                "output_tokens": out, "member": member, "byok": False, "settle_reason": None,
                "over_hold": False, "usage_unknown": False}
    charges = [  # newest first, as the journal lists them
        (nobody["charged_micros"], u("gpt-4o", 500, 0, 20, None)),
        (bob_direct["charged_micros"], u("gpt-4o", 1000, 0, 50, "bob")),
        (ann_direct["charged_micros"], u("claude-sonnet-4-20250514", 2000, 100, 300, "ann")),
        (s.json["charged_micros"], u("gpt-4o", 4000, 1500, 600, "ann")),
    ]
    return ws, charges, pending.json


def key_page(acct, limit=100):
    r = api("GET", "/v1/accounts/%s/transactions?limit=%d" % (acct, limit), auth="read")
    eq(r.status, 200, "transactions %r" % r)
    return r.json


def test_every_usage_row_carries_its_usage_record_on_both_routes():
    ws, charges, _ = workspace()
    page = key_page(ws)
    usage_rows = [t for t in page["data"] if t["cause"] == "usage"]
    eq([(-t["amount_micros"], t["usage"]) for t in usage_rows], charges, "each charge with its usage record")
    others = [t for t in page["data"] if t["cause"] != "usage"]
    eq(sorted(t["source"] for t in others), ["promo", "signup_bonus"], "the grants")
    for t in others:
        eq(t["usage"], None, "a %s row carries usage null" % t["source"])
    for t in page["data"]:
        check("usage" in t, "every row has the field")
    tok = token(ws)
    mine = me(tok, "/v1/me/transactions?limit=100")
    eq(mine.status, 200, "me transactions %r" % mine)
    eq(mine.json, page, "the same rows, usage included, on /v1/me/transactions")
    # Page by page the same rows as in one page.
    rows, cursor = [], None
    while True:
        r = me(tok, "/v1/me/transactions?limit=2" + ("&cursor=" + cursor if cursor else ""))
        eq(r.status, 200, "page %r" % r)
        rows += r.json["data"]
        cursor = r.json["next_cursor"]
        if cursor is None:
            break
    eq(rows, page["data"], "pages of 2 make up the whole journal")


def test_a_plain_account_settle_and_usage_rows():
    acct = new_account("eu")
    a = authorize(acct, "gpt-4o", 3000, 800)
    s = settle(a.json["hold_id"], 3000, 400)
    eq(s.status, 200, "settle")
    usage_call(acct, "claude-sonnet-4-20250514", 100, 10, request_id=uid("u"), force=True)
    rows = key_page(acct)["data"]
    eq([(t["cause"], t["source"], t["usage"]) for t in rows], [
        ("usage", "forced", {"model": "claude-sonnet-4-20250514", "input_tokens": 100, "cached_input_tokens": 0,
                             "cache_write_input_tokens": 0, "output_tokens": 10, "member": None, "byok": False,
                             "settle_reason": None, "over_hold": False, "usage_unknown": False}),
        ("usage", None, {"model": "gpt-4o", "input_tokens": 3000, "cached_input_tokens": 0,
                         "cache_write_input_tokens": 0, "output_tokens": 400, "member": None, "byok": False,
                         "settle_reason": None, "over_hold": False, "usage_unknown": False}),
        ("grant", "signup_bonus", None)], "rows of an account without members")


def _counts(route):
    text = api("GET", "/metrics", auth=None).raw.decode()
    m = re.search(r'^creditd_db_round_trips_total\{route="%s"\} (\d+)$' % re.escape(route), text, re.M)
    n = sum(int(x) for x in re.findall(r'^creditd_requests_total\{route="%s",status="\d+"\} (\d+)$'
                                       % re.escape(route), text, re.M))
    return (int(m.group(1)) if m else 0), n


def round_trips_of(route, call):
    """The database round trips creditd counted for one request to route."""
    before = _counts(route)
    call()
    got = [None]

    def counted():
        got[0] = _counts(route)
        return got[0][1] >= before[1] + 1
    check(wait_until(counted, timeout=5), "the request to %s was counted" % route)
    return got[0][0] - before[0]


def test_a_page_costs_the_same_statements_whatever_its_size():
    ws, charges, _ = workspace()
    for i in range(14):
        usage_call(ws, "gpt-4o", 100 + i, 10, member="bob", request_id=uid("u"))
    tok = token(ws)
    member_tok = token(ws, member="bob")
    for route, fetch in (
            ("transactions", lambda n: api("GET", "/v1/accounts/%s/transactions?limit=%d" % (ws, n), auth="read")),
            ("me_transactions", lambda n: me(tok, "/v1/me/transactions?limit=%d" % n)),
            ("me_transactions", lambda n: me(member_tok, "/v1/me/transactions?limit=%d" % n))):
        sizes = {}
        # The fewest of several: a connection that has not prepared a
        # statement yet pays a round trip more for it once (there are
        # several workers, each with its own connection); a lookup per row
        # would cost 14 more at every try.
        for n in (1, 15):
            tries = []
            for _ in range(6):
                got = []
                tries.append(round_trips_of(route, lambda: got.append(fetch(n))))
                eq(got[0].status, 200, "page of %d" % n)
                eq(len(got[0].json["data"]), n, "%d rows" % n)
                check(all(t["usage"] is not None for t in got[0].json["data"] if t["cause"] == "usage"),
                      "usage on every usage row")
            sizes[n] = min(tries)
        eq(sizes[15], sizes[1], "%s: a page of 15 costs what a page of 1 does (%r)" % (route, sizes))
        check(sizes[1] <= 4, "%s: a handful of round trips per page (%r)" % (route, sizes))


def test_me_usage_is_the_accounts_usage_report():
    ws, _, _ = workspace()
    tok = token(ws)
    for group in ("model", "day", "member"):
        q = "?from=%s&to=%s&group_by=%s" % (FROM, TO, group)
        mine = me(tok, "/v1/me/usage" + q)
        eq(mine.status, 200, "me usage %r" % mine)
        key = api("GET", "/v1/accounts/%s/usage%s" % (ws, q), auth="read")
        eq(mine.json, key.json, "group_by=%s as the key route answers" % group)
    by_model = me(tok, "/v1/me/usage?from=%s&to=%s" % (FROM, TO)).json
    eq(by_model["group_by"], "model", "model by default")
    eq(by_model["total"]["requests"], 5, "five calls, the byok one included")
    r = me(tok, "/v1/me/usage?group_by=week")
    eq((r.status, r.err.get("param")), (400, "group_by"), "an unknown group_by")
    eq(me(tok, "/v1/me/usage?from=2030-01-01&to=2020-01-01").status, 400, "from after to")
    eq(api("GET", "/v1/me/usage", auth="read").status, 401, "a key is not a browser token")


def test_a_member_token_sees_the_member_only():
    ws, charges, pending = workspace()
    r = mint(ws, member="ann")
    eq(r.status, 201, "minted for ann %r" % r)
    eq(sorted(r.json), ["expires_at", "token"], "its fields")
    tok = r.json["token"]
    # /v1/me: the pool's available credit and ann's own block.
    mine = me(tok)
    eq(mine.status, 200, "me %r" % mine)
    eq(mine.json["available_micros"], account(ws)["available_micros"], "the pool's available credit")
    spent = sum(c for c, u in charges if u["member"] == "ann")
    held = pending["amount_micros"]
    eq(mine.json["member"], {"member": "ann", "monthly_cap_micros": 200000, "month_spent_micros": spent,
                             "reserved_micros": held, "remaining_micros": 200000 - spent - held}, "ann's block")
    stored = member_put(ws, "ann")
    eq((stored["month_spent_micros"], stored["reserved_micros"]), (spent, held), "as the ledger keeps them")
    bob = me(token(ws, member="bob")).json["member"]
    eq(bob, {"member": "bob", "monthly_cap_micros": None,
             "month_spent_micros": sum(c for c, u in charges if u["member"] == "bob"), "reserved_micros": 0,
             "remaining_micros": None}, "no cap: remaining null")
    # Transactions: ann's usage rows only.
    page = me(tok, "/v1/me/transactions?limit=100")
    eq(page.status, 200, "me transactions %r" % page)
    want = [t for t in key_page(ws)["data"] if t["usage"] is not None and t["usage"]["member"] == "ann"]
    eq(len(want), 2, "ann has two charged calls")
    eq(page.json["data"], want, "ann's usage rows, no grants nor other members' rows")
    first = me(tok, "/v1/me/transactions?limit=1").json
    eq((first["data"], first["has_more"]), (want[:1], True), "paged among ann's rows")
    rest = me(tok, "/v1/me/transactions?limit=1&cursor=" + first["next_cursor"]).json
    eq((rest["data"], rest["has_more"]), (want[1:2], False), "the next page is ann's last row")
    # Usage: ann's only.
    key = api("GET", "/v1/accounts/%s/usage?from=%s&to=%s&group_by=member" % (ws, FROM, TO), auth="read").json
    ann = [row for row in key["data"] if row["member"] == "ann"][0]
    for group in ("model", "day"):
        u = me(tok, "/v1/me/usage?from=%s&to=%s&group_by=%s" % (FROM, TO, group))
        eq(u.status, 200, "ann's usage %r" % u)
        eq(u.json["total"], {k: ann[k] for k in ("requests", "input_tokens", "cached_input_tokens",
                                                  "cache_write_input_tokens", "output_tokens", "cost_micros",
                                                  "by_settle_reason")}, "ann's sums by %s" % group)
    models = me(tok, "/v1/me/usage?from=%s&to=%s" % (FROM, TO)).json["data"]
    eq(sorted(m["model"] for m in models), sorted(["gpt-4o", "claude-sonnet-4-20250514"]), "ann's models only")
    r = me(tok, "/v1/me/usage?group_by=member")
    eq((r.status, r.err.get("param")), (400, "group_by"), "a member cannot group by member")
    # No top-up for the pool.
    r = me(tok, "/v1/me/topup", "POST", {"amount_cents": 1000})
    eq((r.status, r.err.get("code")), (403, "forbidden"), "a member's token cannot top up %r" % r)
    # Minting for an unknown member, or a bad one.
    r = mint(ws, member="nobody-" + uid())
    eq(r.status, 404, "unknown member at mint %r" % r)
    eq(mint(ws, member="").status, 400, "an empty member")
    eq(mint(ws, member="x" * 129).status, 400, "a member too long")
    eq(mint(ws, member=7).status, 400, "a member not a string")
    eq(mint(new_account("eu"), member="ann").status, 404, "ann is not a member of another account")


def test_a_removed_member_and_a_token_without_member():
    ws, _, _ = workspace()
    member_put(ws, "cid")
    tok = token(ws, member="cid")
    eq(me(tok).status, 200, "cid's token")
    eq(api("DELETE", "/v1/accounts/%s/members/cid" % ws).status, 200, "cid removed")
    eq(me(tok).status, 404, "a removed member's token finds no member")
    plain = token(ws)
    check(plain.startswith("cdw1."), "a token without member keeps the first form")
    mine = me(plain).json
    check("member" not in mine, "no member block without a member")
    eq(mine["available_micros"], account(ws)["available_micros"], "the account")
    eq(me(plain, "/v1/me/transactions?limit=100").json, key_page(ws), "the whole journal")
    member_tok = token(ws, member="ann")
    check(member_tok.startswith("cdw2."), "a member's token has its own form")
    # The member swapped inside a signed token: forged, 401.
    head, exp, sig = member_tok.rsplit(".", 2)
    prefix, acct_part, _ = head.split(".")
    bob = token(ws, member="bob")
    swapped = ".".join([prefix, acct_part, bob.split(".")[2], exp, sig])
    eq(me(swapped).status, 401, "another member under ann's signature")
    dropped = ".".join(["cdw1", acct_part, exp, sig])
    eq(me(dropped).status, 401, "the member dropped from ann's token")


def test_a_usage_report_reads_the_index_alone():
    """A usage report (by day, model or member, of one member or all) is a
    range of ix_account_time with every column it sums (migration 025):
    EXPLAIN says "Using index", no read of the table's rows, which on a
    grown ledger lie one or two to a page among other accounts' (bench
    --growth). With ix_account_time (account_id, created_at) alone every
    row was read from the table."""
    from lib import sql
    acct = new_account("cover")
    usage_call(acct, inp=10, out=5)
    aid = sql("SELECT id FROM accounts WHERE ext_id = '%s'" % acct)[0][0]
    where = ("WHERE account_id = %s AND created_at >= 0 AND created_at < 4102444800 "
             "AND (%s IS NULL OR member = %s)")
    sums = "COUNT(*), SUM(input_tokens), SUM(cached_input_tokens), SUM(output_tokens), SUM(cost_micros)"
    for group in ("created_at DIV 86400", "COALESCE(model, action, '')", "member"):
        for member in ("NULL", "'ann'"):
            plan = sql("EXPLAIN SELECT %s, %s FROM usage_records %s GROUP BY 1 ORDER BY 1"
                       % (group, sums, where % (aid, member, member)))
            eq(plan[0][5], "ix_account_time", "the report reads ix_account_time: %r" % plan)
            check("Using index" in plan[0][9].replace("Using index condition", ""),
                  "by %s, member %s: the index alone: %r" % (group, member, plan))
