"""test_74_routes_disagree.py: two instances that route an account to two
nodes still answer what the other wrote a moment ago.

Each instance's watchdog sees a node come back on its own probe, so for
a moment after a node returns (or after one falls out of sync and back)
one instance routes an account to that node and the other to the
account's next-best node. A row written through the second is applied on
the first node a moment later; a read there that did not wait answered
404 for an account made a moment ago (seen in the suite: a grant through
one instance to an account the other had just made, "account not
found"). Here the disagreement is made to last: the second instance is
given every node but the one its accounts belong to, and accounts are
made through it and used at once through the first, many at a time, so
the node the first reads on is behind with its applying.
"""
import os

from lib import ENV, api, check, eq, parallel, uid, verify
from test_70_galera import galera, instances, node_of, q, urls

# Accounts made and used at once, and how many side by side.
ACCOUNTS = 96
CLIENTS = 16
FEW = 3


def test_an_account_made_through_one_instance_is_found_at_once_through_the_other():
    nodes = galera()
    left_out = nodes[0]
    conf = os.path.join(ENV["CREDITD_STACK_DIR"], "creditd-without-node1.conf")
    others = ",".join(n["name"] for n in nodes if n is not left_out)
    with open(ENV["CREDITD_CONFIG"]) as f:
        text = "".join("nodes = %s\n" % others if line.startswith("nodes =") else line for line in f)
    with open(os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(text)
    # Accounts whose node is the one the second instance does not know:
    # the first routes them there, the second to their next-best node.
    accts = []
    while len(accts) < ACCOUNTS:
        a = uid("dis")
        if node_of(a, nodes) == 0:
            accts.append(a)
    instances(ENV["CREDITD_CONFIG"], conf)
    try:
        def made_then_used(i):
            a = accts[i]
            made = api("POST", "/v1/accounts", {"id": a, "kind": "user"}, base=urls()[1])
            granted = api("POST", "/v1/accounts/%s/grants" % q(a), {"amount_micros": 1000, "source": "adjustment"},
                          base=urls()[0])
            read = api("GET", "/v1/accounts/" + q(a), auth="read", base=urls()[0])
            return made.status, granted.status, read.status, read.json.get("balance_micros") if read.json else None
        res = parallel(CLIENTS, lambda c: [made_then_used(i) for i in range(c, ACCOUNTS, CLIENTS)])
        got = [r for rs in res for r in rs]
        eq(len(got), ACCOUNTS, "every account tried")
        eq([r for r in got if r[0] != 201], [], "each made through the second instance")
        eq([r for r in got if r[1] != 201], [], "each granted at once through the first")
        eq([r for r in got if r[2] != 200], [], "each read at once through the first")
        balances = {r[3] for r in got}
        check(len(balances) == 1, "every account read with its grant: %r" % balances)
    finally:
        instances(ENV["CREDITD_CONFIG"], ENV["CREDITD_CONFIG"])
    verify()


def test_a_plan_and_a_promo_code_made_a_moment_ago_through_the_other_instance_are_found():
    # A plan and a promo code are written on the node of no account; an
    # account made on a plan, or redeeming a code, runs on its own node,
    # which applies them a moment later: it reads them causally.
    def made_then_used(i):
        plan = uid("dp")
        r = api("PUT", "/v1/plans/" + plan, {"credits_micros": 1000, "rollover": "none"}, base=urls()[0])
        eq(r.status, 200, "plan %r" % r)
        code = uid("dc")
        r = api("POST", "/v1/promo_codes", {"code": code, "amount_micros": 500, "max_redemptions": 1},
                base=urls()[0])
        eq(r.status, 201, "promo code %r" % r)
        a = uid("dpa")
        made = api("POST", "/v1/accounts", {"id": a, "kind": "workspace", "plan": plan}, base=urls()[1])
        redeemed = api("POST", "/v1/accounts/%s/redeem" % q(a), {"code": code}, base=urls()[1])
        return made, redeemed
    # Few side by side: every event's id is drawn from one row
    # (event_seq, sql/011), and writes of it on two nodes at once fail
    # each other's certification; sixteen at once met 503s after eight
    # attempts (32 now), what scale-out.md says of the outbox.
    res = parallel(FEW, lambda c: [made_then_used(i) for i in range(c, ACCOUNTS // 2, FEW)])
    got = [r for rs in res for r in rs]
    eq([(m.status, m.json, r.status, r.json) for m, r in got if (m.status, r.status) != (201, 201)], [],
       "each account made on its plan and its code redeemed at once")
    verify()
