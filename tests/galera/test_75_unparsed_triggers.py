"""test_75_unparsed_triggers.py: on Galera, where it was seen, a node
holding cached copies of accounts and journal whose triggers MariaDB
could not parse (docs/scale-out.md, "A known MariaDB defect": a
brute-force abort while the node parsed them; the state made as
tests/integration/unparsed_triggers.py says). Both instances route the
account's writes to that node: each mends it (REPAIR LOCAL TABLE on that
node alone) and runs the write again, answered 200, counted under the
retry reason "triggers"; every node applies the writes, and the ledger
is exact."""
import os

from lib import check, eq, tx_retries, verify
from test_70_galera import funded, galera, node_of, node_sql, urls
from unparsed_triggers import Server


def test_the_account_s_node_with_broken_copies_is_mended_by_each_instance():
    nodes = galera()
    acct = funded(10 ** 7, "trg")
    home = nodes[node_of(acct, nodes)]
    server = Server(home["cnf"], os.path.join(os.path.dirname(home["cnf"]), "node%d" % home["n"]),
                    "node %d" % home["n"])
    before = tx_retries(urls()).get("triggers", 0)
    holds = []
    try:
        for base in urls():         # each instance meets the copies of its own pool's connections
            holds.append(server.guard_pair(acct, base)["charged_micros"])
    finally:
        server.flush()
    retried = tx_retries(urls()).get("triggers", 0) - before
    check(retried >= 4, "transactions run again for the reason \"triggers\": %d, want 4 or more" % retried)
    # Every node applied the writes: the account's usage rows, read on each.
    for n in nodes:
        rows = node_sql(n, "SELECT j.amount_micros FROM journal j JOIN accounts a ON a.id = j.account_id "
                           "WHERE a.ext_id = '%s' AND j.cause = 'usage' ORDER BY j.id" % acct, causal=True)
        eq([-int(x[0]) for x in rows], holds, "node %d: the account's usage rows" % n["n"])
    verify()
