#!/bin/sh
# test_one_writer.sh: every write of money goes through the one writer
# (src/store/store_tx.c, store_write.h: CALL cd_write), as docs/architecture.md's
# "One writer" says, in the C sources and in sql/ alike.
#
# The C sources: no SQL text but that CALL inserts, updates or deletes a
# journal row, a grant's figures, an account's balance, reserve, spend or
# its month and day, a hold's amount, charge or state, a member's spend or
# reserve, or a usage record's cost; no C source calls another stored
# program that writes them. sql/: the migrations are read in order, as
# the server runs them, to find the stored programs (procedures,
# functions, triggers, events) that exist once they have all run; none
# but cd_write, and the older writers the doc names, writes a money
# column, and no migration's own statement does but the repairs the doc
# names. A statement the test cannot read (dynamic SQL, a SET list it
# cannot split) fails rather than passes.
#
# What is written beside the writer (an UPDATE outside cd_write, in C or
# in a stored program) is asserted against the doc's table "Written
# beside the writer" both ways: by column for the tables that hold money,
# by table for the others. A table or column the code writes that the
# doc does not name fails, and so does a row of the doc nothing writes.
top="${top_srcdir:-.}"
exec python3 - "$top" <<'EOF'
import os, re, sys
top = sys.argv[1]
sys.path.insert(0, os.path.join(top, "tests", "unit"))
from c_strings import statements  # noqa: E402
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
# A new account or member row is born holding no money (its month and
# day keys); a member row is born with what the account's holds and
# usage records already say of it (copies, not money moved). Only an
# account's balance or reserve given at its birth would be a write of
# money.
born = {"accounts": {"balance_micros", "reserved_micros"}, "members": set()}
WRITER = "cd_write2"   # sql/059: cd_write, kept for a creditd before it, calls it
n = 0
fail = 0
def check(name, problems):
    global n, fail
    n += 1
    if problems:
        print(f"not ok {n} - {name}")
        for p in problems[:12]:
            print(f"#   {p}")
        if len(problems) > 12:
            print(f"#   ... and {len(problems) - 12} more")
        fail = 1
    else:
        print(f"ok {n} - {name}")

# ---- reading SQL text ------------------------------------------------------

def strip_sql(text):
    """SQL with its comments gone and every string emptied ('' stays, so a
    ';' or a keyword inside a string is never read as SQL); `names` lose
    their quotes."""
    out = []
    i, m = 0, len(text)
    while i < m:
        c = text[i]
        if text.startswith("--", i) or c == "#":
            j = text.find("\n", i)
            i = m if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = m if j < 0 else j + 2
            out.append(" ")
        elif c in "'\"":
            j = i + 1
            while j < m and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append("''")
            i = j + 1
        elif c == "`":
            j = text.find("`", i + 1)
            out.append(text[i + 1:j if j >= 0 else m])
            i = m if j < 0 else j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)

def flatten(s):
    """Parenthesised groups as '()', so what is left is one level."""
    out, depth = [], 0
    for c in s:
        if c == "(":
            if depth == 0:
                out.append("()")
            depth += 1
        elif c == ")":
            depth -= 1
        elif depth == 0:
            out.append(c)
    return "".join(out)

def split_top(s, sep=","):
    parts, depth, cur = [], 0, []
    for c in s:
        depth += c == "("
        depth -= c == ")"
        if c == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    parts.append("".join(cur))
    return parts

def top_find(s, pattern, start=0):
    """The first match of pattern at parenthesis depth 0, from start."""
    flat_at = []
    depth = 0
    for i, c in enumerate(s):
        flat_at.append(depth)
        depth += c == "("
        depth -= c == ")"
    for m in re.finditer(pattern, s[start:], re.I):
        if flat_at[start + m.start()] == 0:
            return start + m.start(), start + m.end()
    return None

JOIN = re.compile(r",|\bSTRAIGHT_JOIN\b|\b(?:NATURAL\s+)?(?:(?:LEFT|RIGHT)(?:\s+OUTER)?\s+|INNER\s+|CROSS\s+)?JOIN\b", re.I)

def table_refs(refs):
    """alias or name -> table, for a FROM list or an UPDATE's tables."""
    names = {}
    for piece in JOIN.split(flatten(refs)):
        piece = re.split(r"\b(?:ON|USING)\b", piece, flags=re.I)[0].strip()
        m = re.fullmatch(r"(\w+)?\s*(\(\))?\s*(?:AS\s+)?(\w+)?", piece, re.I)
        if not m or not m.group(1) and not m.group(3):
            continue
        table = m.group(1).lower() if m.group(1) and not m.group(2) else None
        for name in (m.group(1), m.group(3)):
            if name:
                names[name.lower()] = table
    return names

def assigned(assigns, names, default):
    """Each `[alias.]column = value` of a SET list: (table, column), or an
    error when the list cannot be read or a column's table cannot be told."""
    out, errors = [], []
    for a in split_top(assigns):
        m = re.match(r"\s*(?:(\w+)\.)?(\w+)\s*=", a)
        if not m:
            errors.append(f"cannot read the assignment {a.strip()!r}")
            continue
        table = names.get(m.group(1).lower()) if m.group(1) else default
        if table is None:
            errors.append(f"cannot tell the table of {a.strip()!r}")
            continue
        out.append((table, m.group(2).lower()))
    return out, errors

SET_END = r"\b(?:WHERE|ORDER\s+BY|LIMIT)\b"

def parse_write(stmt):
    """One write statement: [(verb, table, columns or None for every
    column)], and the errors met reading it."""
    stmt = " ".join(stmt.split())
    m = re.match(r"(INSERT(?: IGNORE)? INTO|REPLACE INTO) (\w+)\s*", stmt, re.I)
    if m:
        table = m.group(2).lower()
        rest = stmt[m.end():]
        cols, errors = None, []
        if rest.startswith("("):
            cols = {c.strip().lower() for c in rest[1:rest.find(")")].split(",")}
        elif re.match(r"SET\b", rest, re.I):
            end = top_find(rest, r"\bON DUPLICATE KEY UPDATE\b")
            got, errors = assigned(rest[3:end[0] if end else len(rest)], {}, table)
            cols = {c for _, c in got}
        out = [("INSERT", table, cols)]
        odku = top_find(rest, r"\bON DUPLICATE KEY UPDATE\b")
        if odku:
            got, more = assigned(rest[odku[1]:], {}, table)
            out.append(("UPDATE", table, {c for _, c in got}))
            errors += more
        return out, errors
    m = re.match(r"UPDATE (?:LOW_PRIORITY )?(?:IGNORE )?", stmt, re.I)
    if m:
        at = top_find(stmt, r"\bSET\b", m.end())
        if not at:
            return [], [f"an UPDATE without SET: {stmt[:80]!r}"]
        names = table_refs(stmt[m.end():at[0]])
        real = {t for t in names.values() if t}
        end = top_find(stmt, SET_END, at[1])
        got, errors = assigned(stmt[at[1]:end[0] if end else len(stmt)], names,
                               next(iter(real)) if len(real) == 1 else None)
        if not got and not errors:
            errors.append(f"an UPDATE that sets nothing: {stmt[:80]!r}")
        by = {}
        for t, c in got:
            by.setdefault(t.lower(), set()).add(c)
        return [("UPDATE", t, cs) for t, cs in by.items()], errors
    m = re.match(r"DELETE (?:LOW_PRIORITY |QUICK |IGNORE )*(.*?)\bFROM (.*)", stmt, re.I)
    if m:
        end = top_find(m.group(2), r"\b(?:WHERE|ORDER\s+BY|LIMIT|USING)\b")
        names = table_refs(m.group(2)[:end[0] if end else len(m.group(2))])
        targets = [t.strip().lower() for t in m.group(1).split(",") if t.strip()] or \
            [k for k, v in names.items() if v == k][:1]
        return [("DELETE", names.get(t) or t, None) for t in targets], []
    return [], []

# The C sources' DELETEs of a money table's rows, each where it is and why:
# any other is a write of money beside the writer.
DELETES = {
    ("ledger/records/ledger_purge.c", "holds"): "retention purges finished holds (nothing reserved, settled long ago)",
    ("ledger/accounts/ledger_accounts.c", "members"): "a member deleted under its account's lock, its alerts re-armed",
}

def money_hits(verb, table, cols, where=None):
    """The money columns a write of table touches (cols None: every one);
    where: the C source it is in (None: sql/'s)."""
    mcols = money.get(table)
    if mcols is None:
        return []
    if verb == "DELETE" and (where, table) in DELETES:
        return []
    if mcols == "*":
        return ["*"]
    if verb == "DELETE":
        return [] if where is None else sorted(mcols)	# sql/'s: its migrations' clean-ups
    if verb == "INSERT":
        may = born.get(table, mcols) & mcols
        return sorted(may if cols is None else may & cols)
    return sorted(mcols if cols is None else mcols & cols)

def beside_of(verb, table, cols):
    """(table, column or '*') entries an UPDATE writes beside the writer."""
    if verb != "UPDATE":
        return []
    mcols = money.get(table)
    if mcols is None:
        return [(table, "*")]
    if mcols == "*":
        return []
    return [(table, c) for c in sorted(cols - mcols)]

VERB = re.compile(r"\b(INSERT(?:\s+IGNORE)?\s+INTO|REPLACE\s+INTO|DELETE|UPDATE)\b", re.I)
NOT_A_WRITE = {"FOR", "KEY", "BEFORE", "AFTER", "ON", "DUPLICATE"}

def sql_writes(text):
    """Every write statement of stripped SQL text, wherever it begins."""
    out = []
    for m in VERB.finditer(text):
        before = re.search(r"([\w.]+)\s*$", text[max(0, m.start() - 64):m.start()])
        if before and (before.group(1).upper() in NOT_A_WRITE or before.group(1).endswith(".")):
            continue
        if text[m.start() - 1:m.start()] == ".":
            continue
        end = text.find(";", m.end())
        out.append(text[m.start():end if end >= 0 else len(text)])
    return out

# ---- the stored programs sql/ leaves ---------------------------------------

CREATE = re.compile(r"\bCREATE\s+(?:OR\s+REPLACE\s+)?(?:DEFINER\s*=\s*\S+\s+)?"
                    r"(PROCEDURE|FUNCTION|TRIGGER|EVENT)\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", re.I)
DROP = re.compile(r"\bDROP\s+(PROCEDURE|FUNCTION|TRIGGER|EVENT)\s+(?:IF\s+EXISTS\s+)?(\w+)", re.I)
WORD = re.compile(r"\w+|;|\.")

def body_end(text, start):
    """Where the stored program whose body starts at start ends: its
    BEGIN ... END block (CASE ... END and CASE ... END CASE nest; END IF,
    END WHILE, END LOOP, END REPEAT, END FOR close what opened no block
    here), or its one statement's ';'. None when it never ends."""
    depth, i = 0, 0
    toks = list(WORD.finditer(text, start))
    while i < len(toks):
        t = toks[i]
        w = t.group(0).upper()
        i += 1
        if i > 1 and toks[i - 2].group(0) == "." and toks[i - 2].end() == t.start():
            continue	# a qualified name: NEW.end
        if w == ";" and depth == 0:
            return t.end()
        if w in ("BEGIN", "CASE"):
            depth += 1
        elif w == "END":
            nxt = toks[i].group(0).upper() if i < len(toks) else ""
            if nxt in ("IF", "WHILE", "LOOP", "REPEAT", "FOR", "CASE"):
                i += 1	# END CASE closes a CASE; the others opened nothing here
                if nxt != "CASE":
                    continue
            depth -= 1
            if depth == 0:
                j = text.find(";", t.end())
                return len(text) if j < 0 else j + 1
    return None

def read_sql():
    """(live programs: (kind, name) -> (file, kind, name, trigger table,
    body), migrations' own statements: [(file, text)], errors)."""
    live, tops, errors = {}, [], []
    sqldir = os.path.join(top, "sql")
    for f in sorted(x for x in os.listdir(sqldir) if x.endswith(".sql")):
        text = strip_sql(open(os.path.join(sqldir, f), encoding="utf-8").read())
        spans, at = [], 0
        # In the file's order: a DROP then a CREATE of one name leaves it.
        for m in sorted(list(CREATE.finditer(text)) + list(DROP.finditer(text)), key=lambda m: m.start()):
            if m.start() < at:
                continue	# inside the body of the program before
            kind, name = m.group(1).upper(), m.group(2).lower()
            if m.group(0).upper().startswith("DROP"):
                live.pop((kind, name), None)
                continue
            end = body_end(text, m.end())
            if end is None:
                errors.append(f"{f}: cannot find where {kind} {name} ends")
                continue
            trig = re.match(r"\s+(?:BEFORE|AFTER)\s+(?:INSERT|UPDATE|DELETE)\s+ON\s+(\w+)", text[m.end():], re.I)
            spans.append((m.start(), end))
            live[(kind, name)] = (f, kind, name, trig.group(1).lower() if trig else None, text[m.end():end])
            at = end
        rest, at = [], 0
        for a, b in spans:
            rest.append(text[at:a])
            at = b
        rest.append(text[at:])
        tops.append((f, " ".join(rest)))
    return live, tops, errors

def program_writes(kind, trig_table, body):
    """(verb, table, columns) of a stored program's body; a trigger's
    `SET NEW.column = ...` writes its table's column."""
    out, errors = [], []
    if re.search(r"\b(?:PREPARE|EXECUTE\s+IMMEDIATE)\b", body, re.I):
        errors.append("dynamic SQL (PREPARE, EXECUTE IMMEDIATE): text this test cannot read")
    for stmt in sql_writes(body):
        got, e = parse_write(stmt)
        out += got
        errors += e
    if kind == "TRIGGER":
        for m in re.finditer(r"\bSET\b(.*?)(?:;|$)", body, re.I | re.S):
            for t in split_top(m.group(1)):
                a = re.match(r"\s*NEW\.(\w+)\s*=", t, re.I)
                if a:
                    out.append(("UPDATE", trig_table, {a.group(1).lower()}))
    return out, errors

# ---- the C sources ---------------------------------------------------------


# ---- the doc ---------------------------------------------------------------

def doc_table(doc, marker):
    """The rows (cells split) of the first table after the marker line."""
    at = doc.find(marker)
    if at < 0:
        return None
    rows = []
    for line in doc[at:].splitlines()[1:]:
        if line.startswith("|"):
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif rows:
            break
    return rows[2:]	# past the header and its rule

doc = open(os.path.join(top, "docs", "architecture.md"), encoding="utf-8").read()
doc_beside, doc_sql, doc_errors = {}, {}, []
for marker, into in (("**Written beside the writer.**", doc_beside), ("**Money written in `sql/` outside the writer.**", doc_sql)):
    rows = doc_table(doc, marker)
    if not rows:
        doc_errors.append(f"docs/architecture.md: no table after {marker}")
        continue
    for cells in rows:
        names = re.findall(r"`([\w.]+)`", cells[0])
        cols = "*" if cells[1] == "any" else set(re.findall(r"`([\w.]+)`", cells[1]))
        if not names or not cols:
            doc_errors.append(f"docs/architecture.md: a row without names: {'|'.join(cells)}")
        for name in names:
            into[name.lower()] = cols

# ---- the scan --------------------------------------------------------------

live, tops, errors = read_sql()
errors = [f"sql/{e}" for e in errors]
sql_money = {}		# routine or migration -> set of table.column written
beside = {}		# (table, column) -> where
writers = {WRITER} | {k for k in doc_sql if not k.endswith(".sql")}
money_programs = set()
for (kind, name), (f, _, _, trig, body) in sorted(live.items()):
    got, e = program_writes(kind, trig, body)
    errors += [f"sql/{f} {name}: {x}" for x in e]
    for verb, table, cols in got:
        hits = money_hits(verb, table, cols)
        if hits:
            money_programs.add(name)
            sql_money.setdefault(name, set()).update(f"{table}.{h}" for h in hits)
        if name not in writers:
            for b in beside_of(verb, table, cols):
                beside.setdefault(b, f"sql/{f} {kind.lower()} {name}")
for f, text in tops:
    if re.search(r"\b(?:PREPARE|EXECUTE\s+IMMEDIATE)\b", text, re.I):
        errors.append(f"sql/{f}: dynamic SQL (PREPARE, EXECUTE IMMEDIATE): text this test cannot read")
    for stmt in sql_writes(text):
        got, e = parse_write(stmt)
        errors += [f"sql/{f}: {x}" for x in e]
        for verb, table, cols in got:
            hits = money_hits(verb, table, cols)
            if hits:
                sql_money.setdefault(f.lower(), set()).update(f"{table}.{h}" for h in hits)

bad, calls, seen_write = [], [], 0
for root, _, files in os.walk(os.path.join(top, "src")):
    for f in sorted(files):
        if not f.endswith((".c", ".h")):
            continue
        path = os.path.join(root, f)
        rel = os.path.relpath(path, os.path.join(top, "src"))
        for sql in statements(open(path, encoding="utf-8").read()):
            s = " ".join(strip_sql(sql).split())
            m = re.match(r"CALL (\w+)\s*\(", s, re.I)
            if m:
                name = m.group(1).lower()
                if name == WRITER and rel == "store/store_tx.c":
                    seen_write += 1
                elif name in money_programs or name == WRITER:
                    calls.append(f"{rel}: CALL {name} (it writes {', '.join(sorted(sql_money.get(name, {'money'})))})")
                elif ("PROCEDURE", name) not in live:
                    calls.append(f"{rel}: CALL {name}, a procedure sql/ does not leave")
                continue
            # SQL text, not a sentence that starts with one of its words.
            if not re.match(r"INSERT (?:IGNORE )?INTO \w+|REPLACE INTO \w+|DELETE\b.*?\bFROM \w+|UPDATE \w+.*?\bSET\b", s, re.I):
                continue
            got, e = parse_write(s)
            errors += [f"{rel}: {x}" for x in e]
            for verb, table, cols in got:
                hits = money_hits(verb, table, cols, rel)
                if hits:
                    bad.append(f"{rel}: {verb} {table} ({', '.join(hits)})")
                for b in beside_of(verb, table, cols):
                    beside.setdefault(b, rel)

check("every write statement read (C sources, sql/, the doc's tables)", doc_errors + errors)
check("the one writer's CALL cd_write2 is in src/store/store_tx.c, once", [] if seen_write == 1 else [f"found {seen_write}"])
check("no C source calls a stored program that writes money, or one sql/ does not leave", calls)
check("no SQL text of the C sources but the writer's writes money columns", bad)
check("sql/: no stored program or migration writes money but cd_write and the doc's exceptions",
      [f"{k}: writes {', '.join(sorted(v))}; docs/architecture.md does not name it"
       for k, v in sorted(sql_money.items()) if k != WRITER and k not in doc_sql] +
      [f"{k}: writes {', '.join(sorted(set(v) - doc_sql[k]))} beyond what docs/architecture.md says"
       for k, v in sorted(sql_money.items()) if k in doc_sql and doc_sql[k] != "*" and set(v) - doc_sql[k]])
check("sql/: every exception docs/architecture.md names still writes money",
      [f"{k}: names it, but sql/ leaves no program or migration of that name writing money"
       for k in sorted(doc_sql) if k not in sql_money] +
      [f"{k}: names {', '.join(sorted(doc_sql[k] - sql_money[k]))}, which it does not write"
       for k in sorted(doc_sql) if k in sql_money and doc_sql[k] != "*" and doc_sql[k] - sql_money[k]])

def doc_names(table, col):
    want = doc_beside.get(table)
    return want == "*" or (want is not None and col in want)
check("what the code writes beside the writer is in docs/architecture.md's list",
      [f"{where}: {table}" + ("" if col == "*" else f".{col}") + " written beside the writer; docs/architecture.md does not list it"
       for (table, col), where in sorted(beside.items()) if not doc_names(table, col)])
found_tables = {t for t, _ in beside}
check("every table and column docs/architecture.md lists is written beside the writer",
      [f"{table}: listed, nothing writes it beside the writer" for table in sorted(doc_beside) if table not in found_tables] +
      [f"{table}.{c}: listed, nothing writes it beside the writer"
       for table, cols in sorted(doc_beside.items()) if cols != "*" and table in found_tables
       for c in sorted(cols) if (table, c) not in beside] +
      [f"{table}: holds money, so the list names its columns, not 'any'"
       for table, cols in sorted(doc_beside.items()) if cols == "*" and table in money])
print(f"1..{n}")
sys.exit(fail)
EOF
