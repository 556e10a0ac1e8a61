#!/bin/sh
# test_one_writer.sh: every write of money goes through the one writer
# (src/store/store_write.c: CALL cd_write). No SQL text of the C sources
# but that CALL inserts, updates or deletes a journal row, a grant's
# figures, an account's balance, reserve, spend or its month and day, a
# hold's amount, charge or state, a member's spend or reserve, or a usage
# record's cost. What the ledger's files may still update directly moves
# no balance: the list is docs/architecture.md's "Written beside the
# writer", and this test prints what it found of them so the list can be
# held to it by eye.
top="${top_srcdir:-.}"
exec python3 - "$top" <<'EOF'
import os, re, sys
top = sys.argv[1]
# The money columns, per table; "*" means the table is money whole.
money = {
    "journal": "*",
    "grants": {"amount_micros", "remaining_micros", "expires_at", "debt"},
    "accounts": {"balance_micros", "reserved_micros", "month_spent_micros", "day_spent_micros",
                 "month_key", "day_key"},
    "holds": {"amount_micros", "charged_micros", "state"},
    "members": {"month_spent_micros", "reserved_micros", "month_key"},
    "usage_records": {"cost_micros"},
}
lit = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
n = 0
fail = 0
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
    out = []
    pos = 0
    cur = None
    last_end = -1
    for m in lit.finditer(text):
        between = text[last_end:m.start()] if last_end >= 0 else ""
        if cur is not None and re.fullmatch(r"\s*(?:[A-Z_]+\s*)*", between):
            cur += m.group(1)
        else:
            if cur is not None:
                out.append(cur)
            cur = m.group(1)
        last_end = m.end()
    if cur is not None:
        out.append(cur)
    return out
bad = []
direct = []
seen_write = 0
for root, _, files in os.walk(os.path.join(top, "src")):
    for f in sorted(files):
        if not f.endswith(".c"):
            continue
        path = os.path.join(root, f)
        rel = os.path.relpath(path, os.path.join(top, "src"))
        for sql in statements(open(path, encoding="utf-8").read()):
            s = " ".join(sql.split())
            if s.startswith("CALL cd_write("):
                seen_write += rel == "store/store_write.c"
                continue
            m = re.match(r"(INSERT( IGNORE)? INTO|REPLACE INTO|DELETE FROM|UPDATE) (\w+)", s)
            if not m:
                continue
            table = m.group(3)
            cols = money.get(table)
            if cols is None:
                if m.group(1) == "UPDATE":
                    direct.append(f"{rel}: {table}")
                continue
            if cols == "*" or m.group(1) != "UPDATE":
                hit = sorted(cols) if cols != "*" else ["*"]
                if m.group(1).startswith("DELETE") and table != "journal":
                    hit = []	# the purge of finished rows
                elif m.group(1) != "UPDATE" and cols != "*":
                    # A new account or member row is born holding no money
                    # (its month and day keys); a member row is born with
                    # what the account's holds and usage records already
                    # say of it (copies, not money moved). Only an
                    # account's balance or reserve given at its birth
                    # would be a write of money.
                    setlist = s[m.end():s.find(")")] if "(" in s[m.end():m.end() + 2] else ""
                    born = {"accounts": {"balance_micros", "reserved_micros"}, "members": set()}.get(table, cols)
                    hit = sorted(c for c in cols & born if re.search(rf"\b{c}\b", setlist))
            else:
                setpart = s[m.end():].split(" WHERE ")[0]
                hit = sorted(c for c in cols if re.search(rf"\b{c}\s*=", setpart))
                if not hit:
                    direct.append(f"{rel}: {table}")
            if hit:
                bad.append(f"{rel}: {m.group(1)} {table} ({', '.join(hit)})")
check("the one writer's CALL cd_write is in src/store/store_write.c", "" if seen_write == 1 else f"found {seen_write}")
check("no SQL text but the writer's writes money columns", "; ".join(bad[:5]))
for d in sorted(set(direct)):
    print(f"# written beside the writer: {d}")
print(f"1..{n}")
sys.exit(fail)
EOF
