"""unparsed_triggers.py: MariaDB's table copy cached with triggers it
could not parse (docs/scale-out.md, "A known MariaDB defect"), made on
one server for a test: tests/chaos/chaos_triggers.py on the stack's
server, tests/galera/test_75_unparsed_triggers.py on a Galera node.

The kill that makes it in the field cannot be timed, so the same state is
made the other way: the table's trigger file broken on disk, the server's
cache of the table flushed (locally: not replicated), a copy opened from
the file in each of the server's table caches by root's writes (refused),
the file put back. The cached copies are then the defect's: the
definition on disk parses, the copies refuse every write."""
import os
import subprocess

from lib import Fail, api, check, eq, uid

BROKEN_BODY = "SET NEW.broken = (("      # a trigger body that does not parse


class Server:
    """One MariaDB server: its client config and its data directory."""

    def __init__(self, cnf, datadir, name="the server"):
        self.cnf, self.datadir, self.name = cnf, datadir, name

    def run(self, statement):
        """(the connection's id, rows, the error's text or None), on a new connection."""
        p = subprocess.run(["mariadb", "--defaults-file=" + self.cnf, "-N", "-B", "creditd", "-e",
                            "SELECT CONNECTION_ID(); " + statement], capture_output=True, text=True, timeout=60)
        lines = p.stdout.splitlines()
        return int(lines[0]), [x.split("\t") for x in lines[1:]], (p.stderr if p.returncode != 0 else None)

    def sql(self, statement):
        _conn, rows, err = self.run(statement)
        if err is not None:
            raise Fail("sql on %s failed: %s" % (self.name, err))
        return rows

    def root_write(self, table, acct):
        """root's write of a row of the account's, which fires the table's
        triggers (a statement that meets no row never looks at them): (the
        connection's id, the error's text or None when it went through). A
        whole copy of accounts takes it (row_version raised); one of
        journal refuses it, as the journal is append-only."""
        if table == "accounts":
            stmt = "UPDATE accounts SET row_version = row_version WHERE ext_id = '%s'" % acct
        else:
            stmt = ("UPDATE journal SET description = description WHERE id = %s" % self.sql(
                "SELECT MIN(j.id) FROM journal j JOIN accounts a ON a.id = j.account_id WHERE a.ext_id = '%s'"
                % acct)[0][0])
        conn, _rows, err = self.run(stmt)
        return conn, err

    def every_cache_refuses(self, table, acct, what):
        """root's writes from new connections until one has drawn a copy
        from each of the server's table caches (a connection draws from the
        one of its id modulo their number): each must be refused for the
        trigger."""
        n = int(self.sql("SHOW GLOBAL STATUS LIKE 'Table_open_cache_active_instances'")[0][1])
        seen = set()
        for _ in range(20 * n):
            conn, err = self.root_write(table, acct)
            check(err is not None and "has an error in its body" in err,
                  "%s, %s (connection %d): %r" % (what, self.name, conn, err))
            seen.add(conn % n)
            if len(seen) == n:
                return
        raise Fail("%s: %d of %d table caches reached" % (what, len(seen), n))

    def break_cached_copy(self, table, acct):
        """Leaves the table with cached copies whose triggers do not parse,
        one in each table cache, and its definition on disk whole; checks
        both. The file is broken before the cache is flushed, so that every
        copy opened from then on, creditd's included, is broken."""
        path = os.path.join(self.datadir, "creditd", table + ".TRG")
        st = os.stat(path)
        with open(path) as f:
            good = f.read()
        check("triggers='" in good and "FOR EACH ROW" in good, "%s's trigger file: %r" % (table, good[:200]))
        try:
            _write_trg(path, good.replace("FOR EACH ROW", "FOR EACH ROW " + BROKEN_BODY + " ;", 1), st)
            self.sql("FLUSH LOCAL TABLES " + table)     # its copies closed: the next opens read the broken file
            self.every_cache_refuses(table, acct, "a copy of %s opened from the broken file refuses a write" % table)
        finally:
            _write_trg(path, good, st)
        self.every_cache_refuses(table, acct, "with the file whole again, the cached copies of %s still refuse a "
                                              "write (the defect's state)" % table)

    def flush(self):
        self.sql("FLUSH LOCAL TABLES accounts, journal")

    def guard_pair(self, acct, base=None):
        """An authorize meeting broken copies of accounts, then its settle
        meeting broken copies of journal, through creditd at base (None:
        the stack's): each must answer 200. The settle's answer."""
        self.break_cached_copy("accounts", acct)
        a = api("POST", "/v1/guard/authorize", {"account": acct, "model": "gpt-4o", "input_tokens": 1000,
                                                 "max_output_tokens": 100, "request_id": uid("trg")},
                auth="guard", base=base)
        eq(a.status, 200, "an authorize through %s meeting %s's broken copies of accounts: %r" % (base, self.name, a))
        self.break_cached_copy("journal", acct)
        s = api("POST", "/v1/guard/settle", {"hold_id": a.json["hold_id"], "input_tokens": 1000,
                                              "output_tokens": 50}, auth="guard", base=base)
        eq(s.status, 200, "a settle through %s meeting %s's broken copies of journal: %r" % (base, self.name, s))
        return s.json


def _write_trg(path, text, st):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.chmod(path + ".tmp", st.st_mode & 0o7777)
    os.chown(path + ".tmp", st.st_uid, st.st_gid)
    os.replace(path + ".tmp", path)
