#!/usr/bin/env python3
"""compress.py: the flat paths sdk_paths.mjs prints, as a table of named
nodes (docs/gateway.md, "What the gateway forwards"): a subtree that
comes back (a content block under every role, a tool's input schema) is
written once under a name and reached by "-> NAME". Prints rows
"node class [-> NAME]" with the class a rule gives it (devtools only:
the table in the tree is this output as reviewed, then kept by hand)."""
import json
import re
import sys

TOK = re.compile(r"\.[^.\[{=*]+|\[\]|\{[^}]*\}|=.*$|\*")


def tokens(path):
    if path.startswith("beta:"):
        return [path]
    out, i = [], 0
    p = "." + path if not path.startswith(("[", "{", "=", "*")) else path
    while i < len(p):
        m = TOK.match(p, i)
        if not m:
            raise SystemExit("bad path %r at %d" % (path, i))
        out.append(m.group(0))
        i = m.end()
    return out


def trie(paths):
    root = {}
    for p in paths:
        n = root
        for t in tokens(p):
            n = n.setdefault(t, {})
    return root


def sig(n, memo):
    k = id(n)
    if k not in memo:
        memo[k] = hash(tuple(sorted((t, sig(c, memo)) for t, c in n.items())))
    return memo[k]


def size(n):
    return len(n) + sum(size(c) for c in n.values())


def name_of(tok, used):
    base = re.sub(r"[^A-Za-z0-9_]", "_", tok.strip(".{}[]=*")).strip("_") or "item"
    base = base.replace("type_", "").replace("role_", "")
    base = "@" + base
    name, i = base, 2
    while name in used:
        name, i = "%s_%d" % (base, i), i + 1
    used.add(name)
    return name


def compress(root, min_size=4):
    memo, count, first = {}, {}, {}

    def visit(n, tok, parent):
        s = sig(n, memo)
        count[s] = count.get(s, 0) + 1
        first.setdefault(s, (parent + "_item" if tok == "[]" else tok, n))
        for t, c in n.items():
            visit(c, t, tok)
    for t, c in root.items():
        visit(c, t, "")
    names, used = {}, set(["root"])
    for s, c in count.items():
        tok, n = first[s]
        if c > 1 and size(n) >= min_size:
            names[s] = name_of(tok, used)
    rows, done = [], set()

    def emit(prefix, n):
        for t in sorted(n):
            c = n[t]
            node = prefix + t
            s = sig(c, memo)
            if s in names and c:
                rows.append((node, "-> " + names[s]))
                if s not in done:
                    done.add(s)
                    emit(names[s], c)
            else:
                rows.append((node, ""))
                emit(node, c)
    emit("", root)
    return rows


def main():
    data = json.load(open(sys.argv[1]))
    for route in sys.argv[2:]:
        rows = compress(trie(data[route]))
        print("## %s %d rows (from %d paths)" % (route, len(rows), len(data[route])))
        for node, alias in rows:
            print(node.lstrip("."), alias)


if __name__ == "__main__":
    main()
