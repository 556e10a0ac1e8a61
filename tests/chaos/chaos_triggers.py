"""chaos_triggers.py: a copy of a table MariaDB keeps whose triggers it
could not parse (docs/scale-out.md, "A known MariaDB defect").

A statement killed while MariaDB parses a table's triggers, as it opens a
new copy of the table for its table cache (on Galera, a brute-force abort
is such a kill), leaves that copy cached, marked as holding a trigger it
cannot parse: every write that draws it is refused with error 1064
"... has an error in its body", though the trigger's definition on disk is
whole. Seen on a Galera stack: every write to accounts through one node
answered 500 until the stack was stopped.

That state is made on the stack's server (tests/integration/
unparsed_triggers.py says how). creditd must drop the copies (REPAIR
LOCAL TABLE, which its runtime user may run) and run the transaction
again: the authorize on accounts, then the settle whose journal row meets
journal's copy, each answered 200, each counted under the retry reason
"triggers", the ledger exact.
"""
import stack
from lib import ENV, api, check, eq, new_account, sql, tx_retries, verify, wait_until
from unparsed_triggers import Server


def _log():
    with open(stack.path("creditd.log"), errors="replace") as f:
        return f.read()


def unparsed_triggers(short):
    bases = [ENV["CREDITD_URL"]]
    acct = new_account("trg")
    eq(api("POST", "/v1/accounts/%s/grants" % acct, {"amount_micros": 1000000, "source": "promo"}).status, 201,
       "a grant")
    before = tx_retries(bases).get("triggers", 0)
    logged = len(_log())
    repairs = int(sql("SHOW GLOBAL STATUS LIKE 'Com_repair'")[0][1])
    server = Server(stack.path("my.cnf"), stack.path("db"))
    try:
        settled = server.guard_pair(acct)
    finally:
        server.flush()
    retried = tx_retries(bases).get("triggers", 0) - before
    check(retried >= 2, "transactions run again for the reason \"triggers\": %d, want 2 or more" % retried)
    check(int(sql("SHOW GLOBAL STATUS LIKE 'Com_repair'")[0][1]) > repairs, "creditd ran REPAIR LOCAL TABLE")
    eq(server.root_write("accounts", acct)[1], None, "accounts takes writes again")
    err = server.root_write("journal", acct)[1]
    check(err is not None and "append-only" in err, "journal's triggers run again: %r" % err)
    rows = sql("SELECT amount_micros, cause FROM journal j JOIN accounts a ON a.id = j.account_id "
               "WHERE a.ext_id = '%s' ORDER BY j.id" % acct)
    eq([r[1] for r in rows if r[1] != "grant"], ["usage"], "the account's journal: one usage row")
    eq(int(rows[-1][0]), -settled["charged_micros"], "the usage row charged what the settle answered")
    check(wait_until(lambda: "triggers MariaDB could not parse" in _log()[logged:], timeout=5),
          "creditd logged what it met")
    verify()
    return {"retried": retried}


SCENARIOS = [unparsed_triggers]
