"""chaos_triggers.py: a copy of a table MariaDB keeps whose triggers it
could not parse (docs/scale-out.md, "A known MariaDB defect").

A statement killed while MariaDB parses a table's triggers, as it opens a
new copy of the table for its table cache (on Galera, a brute-force abort
is such a kill), leaves that copy cached, marked as holding a trigger it
cannot parse: every write that draws it is refused with error 1064
"... has an error in its body", though the trigger's definition on disk is
whole. Seen on a Galera stack: every write to accounts through one node
answered 500 until the stack was stopped.

The kill's moment cannot be hit at will, so this makes the same state the
other way: the table's trigger file broken on disk, a copy opened from it
(root's write, refused), the file put back. The cached copy is then the
defect's: the definition on disk parses, the copy refuses every write
(checked by root's write, refused again). creditd must drop the copy
(REPAIR LOCAL TABLE, which its runtime user may run) and run the
transaction again: the authorize on accounts, then the settle whose
journal row meets journal's copy, each answered 200, each counted under
the retry reason "triggers", the ledger exact. A copy is made in each of
the server's table caches (a connection draws from one by its id), and
the trigger file is broken before the cache is flushed, so every copy
creditd may draw is broken.
"""
import os
import subprocess

import stack
from lib import ENV, Fail, api, check, eq, new_account, sql, tx_retries, uid, verify, wait_until

BROKEN_BODY = "SET NEW.broken = (("      # a trigger body that does not parse


def _trg(table):
    return stack.path("db", "creditd", table + ".TRG")


def _log():
    with open(stack.path("creditd.log"), errors="replace") as f:
        return f.read()


def _root_write(table, acct):
    """root's write of a row of the account's, on a new connection, which
    fires the table's triggers (a statement that meets no row never looks
    at them): (the connection's id, the error's text or None when it went
    through). A whole copy of accounts takes it (row_version raised); one
    of journal refuses it, as the journal is append-only."""
    if table == "accounts":
        stmt = "UPDATE accounts SET row_version = row_version WHERE ext_id = '%s'" % acct
    else:
        stmt = ("UPDATE journal SET description = description WHERE id = %s"
                % sql("SELECT MIN(j.id) FROM journal j JOIN accounts a ON a.id = j.account_id WHERE a.ext_id = '%s'"
                      % acct)[0][0])
    p = subprocess.run(["mariadb", "--defaults-file=" + stack.path("my.cnf"), "-N", "-B", "creditd", "-e",
                        "SELECT CONNECTION_ID(); " + stmt], capture_output=True, text=True, timeout=60)
    return int(p.stdout.split()[0]), (p.stderr if p.returncode != 0 else None)


def _every_instance_refuses(table, acct, what):
    """root's writes from new connections until one has drawn a copy from
    each of the server's table caches (a connection draws from the one of
    its id modulo their number): each must be refused for the trigger."""
    n = int(sql("SHOW GLOBAL STATUS LIKE 'Table_open_cache_active_instances'")[0][1])
    seen = set()
    for _ in range(20 * n):
        conn, err = _root_write(table, acct)
        check(err is not None and "has an error in its body" in err, "%s (connection %d): %r" % (what, conn, err))
        seen.add(conn % n)
        if len(seen) == n:
            return
    raise Fail("%s: %d of %d table caches reached" % (what, len(seen), n))


def _write_trg(path, text, st):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.chmod(path + ".tmp", st.st_mode & 0o7777)
    os.chown(path + ".tmp", st.st_uid, st.st_gid)
    os.replace(path + ".tmp", path)


def _break_cached_copy(table, acct):
    """Leaves the table with cached copies whose triggers do not parse, one
    in each table cache, and its definition on disk whole; checks both.
    The file is broken before the cache is flushed, so that every copy
    opened from then on, creditd's included, is broken."""
    path = _trg(table)
    st = os.stat(path)
    with open(path) as f:
        good = f.read()
    check("triggers='" in good and "FOR EACH ROW" in good, "%s's trigger file: %r" % (table, good[:200]))
    try:
        _write_trg(path, good.replace("FOR EACH ROW", "FOR EACH ROW " + BROKEN_BODY + " ;", 1), st)
        sql("FLUSH TABLES " + table)        # every cached copy closed: the next opens read the broken file
        _every_instance_refuses(table, acct, "a copy of %s opened from the broken file refuses a write" % table)
    finally:
        _write_trg(path, good, st)
    _every_instance_refuses(table, acct, "with the file whole again, the cached copies of %s still refuse a write "
                                         "(the defect's state)" % table)


def unparsed_triggers(short):
    bases = [ENV["CREDITD_URL"]]
    acct = new_account("trg")
    eq(api("POST", "/v1/accounts/%s/grants" % acct, {"amount_micros": 1000000, "source": "promo"}).status, 201,
       "a grant")
    before = tx_retries(bases).get("triggers", 0)
    logged = len(_log())
    repairs = int(sql("SHOW GLOBAL STATUS LIKE 'Com_repair'")[0][1])
    try:
        _break_cached_copy("accounts", acct)
        a = api("POST", "/v1/guard/authorize", {"account": acct, "model": "gpt-4o", "input_tokens": 1000,
                                                 "max_output_tokens": 100, "request_id": uid("trg")}, auth="guard")
        eq(a.status, 200, "an authorize meeting the broken copy of accounts: %r" % a)
        _break_cached_copy("journal", acct)
        s = api("POST", "/v1/guard/settle", {"hold_id": a.json["hold_id"], "input_tokens": 1000,
                                              "output_tokens": 50}, auth="guard")
        eq(s.status, 200, "a settle meeting the broken copy of journal: %r" % s)
    finally:
        sql("FLUSH TABLES accounts, journal")
    retried = tx_retries(bases).get("triggers", 0) - before
    check(retried >= 2, "transactions run again for the reason \"triggers\": %d, want 2 or more" % retried)
    check(int(sql("SHOW GLOBAL STATUS LIKE 'Com_repair'")[0][1]) > repairs, "creditd ran REPAIR LOCAL TABLE")
    eq(_root_write("accounts", acct)[1], None, "accounts takes writes again")
    err = _root_write("journal", acct)[1]
    check(err is not None and "append-only" in err, "journal's triggers run again: %r" % err)
    rows = sql("SELECT amount_micros, cause FROM journal j JOIN accounts a ON a.id = j.account_id "
               "WHERE a.ext_id = '%s' ORDER BY j.id" % acct)
    eq([r[1] for r in rows if r[1] != "grant"], ["usage"], "the account's journal: one usage row")
    eq(int(rows[-1][0]), -s.json["charged_micros"], "the usage row charged what the settle answered")
    check(wait_until(lambda: "triggers MariaDB could not parse" in _log()[logged:], timeout=5),
          "creditd logged what it met")
    verify()
    return {"retried": retried}


SCENARIOS = [unparsed_triggers]
