"""test_18_interrupted.py: a statement the server interrupts (1317, "Query
execution was interrupted": a KILL QUERY, or on Galera some brute-force
aborts, MariaDB PR #962) is run again, not answered 500: the transaction
is rolled back and retried like a deadlock's, since nothing of it was
committed."""
import os
import subprocess
import threading
import time

from lib import ENV, api, check, eq, new_account, sql, wait_until


def test_a_statement_killed_mid_wait_is_run_again():
    acct = new_account("kill")
    cnf = os.path.join(ENV["CREDITD_STACK_DIR"], "my.cnf")
    # Another session holds the account's row lock for 3 s.
    locker = subprocess.Popen(["mariadb", "--defaults-file=" + cnf, "creditd", "-N", "-e",
                               "SET autocommit = 0; SELECT id FROM accounts WHERE ext_id = '%s' FOR UPDATE; "
                               "SELECT SLEEP(3); COMMIT;" % acct], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(0.5)
    got = {}
    reader = threading.Thread(target=lambda: got.update(r=api("GET", "/v1/accounts/" + acct, auth="read")))
    reader.start()
    # creditd's statement waiting on that lock, killed while it waits.
    waiting = []
    check(wait_until(lambda: waiting.extend(sql(
        "SELECT id FROM information_schema.processlist WHERE user <> 'root' AND command = 'Execute' "
        "AND info LIKE '%FROM accounts WHERE%FOR UPDATE%'")) or waiting, timeout=5),
          "creditd's account lock waits on the other session")
    sql("KILL QUERY %s" % waiting[0][0])
    reader.join(30)
    locker.wait(30)
    r = got.get("r")
    check(r is not None, "the read answered")
    eq(r.status, 200, "interrupted, then run again once the lock was free: %r" % r)
    eq(r.json["id"], acct, "the account")
