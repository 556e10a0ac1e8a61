#!/bin/sh
# test_sql_decides.sh: no write decides in SQL but those
# docs/architecture.md names ("How far each operation is from one shape", the table
# "Decided in SQL"): an operation decides in C on the rows it loaded and
# writes plain values (docs/architecture.md, "One shape for every money
# operation").
#
# Reads every SQL statement of the C sources (adjacent string literals
# joined, as the compiler joins them) that writes (UPDATE, INSERT,
# REPLACE) and looks at what it assigns (an UPDATE's SET list; an
# INSERT's values and its ON DUPLICATE KEY UPDATE list) for a decision:
# GREATEST, LEAST, IF, IFNULL, COALESCE, NULLIF, CASE, or a column set
# from itself (`n = n + ?`). Each (file, table) found is asserted against
# the doc's table both ways: one the doc does not name fails, and so does
# a row of the doc that nothing matches any more.
top="${top_srcdir:-.}"
exec python3 - "$top" <<'EOF'
import os, re, sys
top = sys.argv[1]
sys.path.insert(0, os.path.join(top, "tests", "unit"))
from c_strings import statements  # noqa: E402


DECIDE = re.compile(r"\b(?:GREATEST|LEAST|IF|IFNULL|COALESCE|NULLIF)\s*\(|\bCASE\b|\b(\w+)\s*=\s*\1\s*[-+]", re.I)
WRITE = re.compile(r"(?:UPDATE\s+(?:LOW_PRIORITY\s+)?(?:IGNORE\s+)?|(?:INSERT|REPLACE)\s+(?:IGNORE\s+)?INTO\s+)(\w+)", re.I)

def assigned(stmt):
    """What a write statement assigns: (table, text), or None."""
    m = WRITE.match(stmt)
    if not m:
        return None
    if stmt[:6].upper() == "UPDATE":
        at = re.search(r"\bSET\b", stmt, re.I)
        end = re.search(r"\bWHERE\b", stmt[at.end():], re.I) if at else None
        return (m.group(1).lower(), stmt[at.end():at.end() + end.start()] if end else stmt[at.end():]) if at else None
    return m.group(1).lower(), stmt[m.end():]

found = {}
for root, _, files in os.walk(os.path.join(top, "src")):
    for f in sorted(files):
        if not f.endswith(".c"):
            continue
        for st in statements(open(os.path.join(root, f), encoding="utf-8").read()):
            got = assigned(" ".join(st.split()))
            if got is None:
                continue
            table, text = got
            for d in DECIDE.finditer(text):
                found.setdefault((f, table), set()).add(d.group(0).strip())

doc = open(os.path.join(top, "docs", "architecture.md"), encoding="utf-8").read()
rows, errors = set(), []
at = doc.find("**Decided in SQL.**")
if at < 0:
    errors.append("docs/architecture.md: no table after **Decided in SQL.**")
else:
    seen = False
    for line in doc[at:].splitlines()[1:]:
        if not line.startswith("|"):
            if seen:
                break
            continue
        seen = True
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        files = re.findall(r"`([\w.]+\.c)`", cells[0])
        tables = re.findall(r"`(\w+)`", cells[1]) if len(cells) > 1 else []
        for f in files:
            for t in tables:
                rows.add((f, t.lower()))
n = 0
fail = 0
def check(name, problems):
    global n, fail
    n += 1
    print(("not ok" if problems else "ok") + f" {n} - {name}")
    for p in problems[:12]:
        print(f"#   {p}")
    fail |= bool(problems)

check("the doc's table is there", errors)
check("every write that decides in SQL is one the doc names",
      [f"src/.../{f}: a write of {t} decides in SQL ({', '.join(sorted(d))}): decide in C on the loaded row, "
       "or name it in docs/architecture.md's table \"Decided in SQL\"" for (f, t), d in sorted(found.items())
       if (f, t) not in rows])
check("every row of the doc's table is still a write that decides in SQL",
      [f"docs/architecture.md names {f} writing {t} in SQL that decides: nothing does any more"
       for f, t in sorted(rows) if (f, t) not in found])
print(f"1..{n}")
sys.exit(fail)
EOF
