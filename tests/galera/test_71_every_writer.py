"""test_71_every_writer.py: every writer of money at once on four hot
accounts (every_writer.py's workload), through the Galera stack's two
creditd instances on three nodes, each instance writing through the node
its accounts route to (docs/architecture.md, "Which rows a write decides on";
docs/scale-out.md).

What it proves is every_writer.py's: balance = sum of the journal,
reserve = sum of the pending holds, the journal chain unbroken, verify
clean, no 5xx, both processes still the ones started, on Galera, where a
commit on another node can abort (BF-abort) a transaction between its
read and its write.
"""
import every_writer
from lib import ENV
from test_70_galera import galera, node_sql, urls


def target():
    import stack
    node = galera()[0]
    names = ("creditd-g1", "creditd-g2")
    return every_writer.Target("galera: creditd-g1 + creditd-g2", urls(), [ENV["CREDITD_URL"]],
                               lambda st: node_sql(node, st, causal=True),
                               {n: stack.pid_of(n) for n in names},
                               [ENV["CREDITD_G1_LOG"], ENV["CREDITD_G2_LOG"]], ENV.get("CREDITD_PROVIDER_URL"))


def test_every_writer_at_once_on_galera():
    # With referrals: a reward is the one transaction of two accounts,
    # whose homes may be two nodes (here both are hot accounts). It once
    # left a referrer's balance off its journal by one reward (an abort
    # untold inside a procedure: sql/053's mark catches it) and conflicted
    # past its tries (the referrer, another node's, was locked for the
    # whole top-up: it is locked last now).
    fig = every_writer.Workload(target(), seconds=25, clients=16, referrals=True).run()
    print("    every writer on galera: %s" % " ".join("%s=%s" % kv for kv in sorted(fig.items())), flush=True)
    untold = 0
    for k in ("CREDITD_G1_LOG", "CREDITD_G2_LOG"):
        with open(ENV[k], errors="replace") as f:
            untold += f.read().count("untold (a Galera brute-force abort")
    print("    aborts Galera did not tell, caught by the mark (run again): %d" % untold, flush=True)
