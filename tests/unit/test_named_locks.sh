#!/bin/sh
# test_named_locks.sh: every named lock creditd takes carries the
# database's salt (docs/operations.md, "Upgrades"; docs/shared-hosting.md).
# Named locks are the server's: a name made of the database's alone is one
# a co-tenant on a shared server can guess and hold, stopping this site's
# migrations or sweeps. So every SQL text of the C sources that calls a
# named-lock function (GET_LOCK, RELEASE_LOCK, IS_USED_LOCK, IS_FREE_LOCK)
# names its lock with the salt: the one bound form of store_migrate.c,
# creditd.<what>.<salt>.<database>, in a file that reads the salt from
# settings ('lock_salt', sql/041), or the salt read inline. Migrations and
# the packaging's scripts take no named lock at all.
top="${top_srcdir:-.}"
exec python3 - "$top" <<'PYEOF'
import os, re, sys
top = sys.argv[1]
funcs = re.compile(r"\b(GET_LOCK|RELEASE_LOCK|IS_USED_LOCK|IS_FREE_LOCK|RELEASE_ALL_LOCKS)\s*\(", re.I)
bound = "LEFT(CONCAT('creditd.', ?, '.', ?, '.', DATABASE()), 64)"
inline = "(SELECT value FROM settings WHERE name = 'lock_salt')"
lit = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
n = fail = 0
def check(name, problem):
    global n, fail
    n += 1
    if problem:
        print(f"not ok {n} - {name}: {problem}")
        fail = 1
    else:
        print(f"ok {n} - {name}")
def statements(text):
    """C string literals, adjacent ones joined (as the compiler joins them)."""
    out, cur, last_end = [], None, -1
    for m in lit.finditer(text):
        between = text[last_end:m.start()] if last_end >= 0 else ""
        if cur is not None and re.fullmatch(r"\s*", between):
            cur += m.group(1)
        else:
            if cur is not None:
                out.append(cur)
            cur = m.group(1)
        last_end = m.end()
    if cur is not None:
        out.append(cur)
    return out
locks = 0
for root, _, files in os.walk(os.path.join(top, "src")):
    for f in sorted(files):
        if not f.endswith((".c", ".h")):
            continue
        path = os.path.join(root, f)
        text = open(path, encoding="utf-8").read()
        reads_salt = "name = 'lock_salt'" in text
        for st in statements(text):
            if not funcs.search(st):
                continue
            locks += 1
            rel = os.path.relpath(path, top)
            salted = inline in st or (bound in st and reads_salt)
            check(f"{rel}: {st[:70]}", None if salted else "a named lock without the database's salt")
check("the C sources take named locks (this test looks at something)", None if locks >= 2 else "found %d" % locks)
# SQL and scripts: no named lock outside a comment.
for d in ("sql", "debian", "etc", "systemd", "devtools"):
    for root, _, files in os.walk(os.path.join(top, d)):
        for f in sorted(files):
            path = os.path.join(root, f)
            try:
                lines = open(path, encoding="utf-8").read().splitlines()
            except (UnicodeDecodeError, OSError):
                continue
            for i, line in enumerate(lines, 1):
                code = line.split("--", 1)[0] if f.endswith(".sql") else line
                if funcs.search(code) and not code.lstrip().startswith("#"):
                    check(f"{os.path.relpath(path, top)}:{i}", "a named lock outside the C sources' salted name")
print("1..%d" % n)
sys.exit(fail)
PYEOF
