#!/usr/bin/env python3
"""walk.py: a request's walk through the tree, counted (docs/architecture.md,
"Counting a request's walk"). Python 3's standard library only, so anyone
can run it (./dev walk) with nothing installed and get the same figures.

The walk is static: from an entry function it follows the calls each body
makes, in the order they are written, depth first, entering a function the
first time it is called and never again (a second call costs nothing: it
is the same code). Every function is one of the tree's src/**/*.c files;
the trail is the sequence of files the walk is in over time: a callee's
file when it is entered, its caller's again when it returns. Then:

  stay     a maximal run of the trail in one file
  rooms    the distinct files entered
  returns  the stays in a file visited before (coming back to it; this
           includes coming back to a caller when a callee in another file
           returns), so returns = stays - rooms

Following the request (--follow PARAM, or ENTRY@PARAM): only the calls
that pass the request on are followed, the measure of one value's trip
(docs/architecture.md). From the entry's parameter PARAM, a body follows
its names: the parameters it was entered as, and any local assigned with
`=` (in its declaration or a statement, anywhere in the body) an
expression that mentions a followed name (`struct store *db = ctx->db;`,
`c = gwcall_new(job, edge)`), until no more are; a name is mentioned
where it stands as a name, not as a member (`x->ctx`). A call is
followed when one of its arguments mentions a followed name (`f(ctx)`,
`f(ctx->db)`, `f(&db->c)`, `f(g(ctx))`), and enters its callee as the
parameters at those positions (an argument in a `...` enters nothing). A
function is entered once per parameter position, the first time a call
passes the request in that position: entered again only for a position
new to it. The calls that pass nothing followed are not followed nor
listed; an unresolved call or a function handed on as a value is listed
only when its arguments (a value: the parentheses it stands in, else its
statement) mention a followed name.

What it does not follow, and lists (unresolved) so a reader sees what it
skipped: calls through a function pointer (a member, `x->f(`; a parameter
or a local, `f(`; `(*f)(`), calls of the tree's function-like macros, and
of the static inline functions of its headers. Calls of what src does not
define (libc, MariaDB, curl, jansson...) are not walked and not listed.

The scanner is C-aware without a compiler: comments, strings, character
constants and preprocessor lines are blanked first (so a brace or a call
inside them is not seen); a definition is `name(...) {` at the file's top
level (brace depth 0) with no `=` before it; a name is resolved in its
caller's own file first (where its statics are), else among the tree's
non-static definitions.

Usage: walk.py [--root DIR] [--functions] [--json] [--top N]
               [--skip FUNC]... [--follow PARAM] [--cut N]
               [--max-rooms N] [--max-returns N] ENTRY...
       walk.py [--root DIR] [--json] --report
ENTRY is FILE:FUNCTION (FILE relative to the root, e.g.
src/http/api_guard.c:api_authorize), or FILE:FUNCTION@PARAM to follow
its parameter PARAM (--follow PARAM: every entry's that names none);
several entries are walked one after another as one trail sharing what
was entered (a request whose path goes on in another thread, through a
queue or a pointer the walk cannot see). --cut N counts the trail's
first N events alone (the functions entered after it dropped; the
unresolved list stays the whole walk's).
--skip FUNC leaves FUNC (a name, or FILE:FUNCTION) unentered, to walk one
branch of a choice. --functions lists the functions entered, nested, each
with the returns its own walk holds; --top N the N functions the most
returning stays begin in. --max-rooms/--max-returns: exit 1 when
exceeded. --report: the guard's four operations and a gateway call (see
REPORT below), each with every call followed and following the request,
against the targets of the guard's reshaping, which the second is held
to: an authorize at most 12 rooms and 20 returns, a gateway call (the
worker's walk from api_gw_call, the measure the targets were set on) 16
and 30; the whole call across its threads is printed beside it.
"""
import argparse
import json
import os
import re
import signal
import sys

KEYWORDS = frozenset(
    """if else for while do switch case default return goto break continue sizeof
    _Alignof alignof _Generic _Static_assert static_assert defined typeof
    __typeof__ __attribute__ __extension__ asm __asm__ void char short int long
    float double signed unsigned _Bool bool const volatile restrict static
    extern inline register auto struct union enum typedef""".split())

IDENT = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")


def unreached(text):
    """The text with what `#if 0` leaves out blanked (its lines kept), and
    what only the test-clock build has (`#ifdef CREDITD_TEST_CLOCK`: the
    faults a test makes on purpose, never on a request's path)."""
    lines = text.split("\n")
    dead = []	# per open conditional: 1 while it is the dead part of an #if 0
    for i, line in enumerate(lines):
        d = re.match(r"\s*#\s*(if|ifdef|ifndef|elif|else|endif)\b\s*(\S*)", line)
        was_dead = any(dead)
        if d is not None:
            kw = d.group(1)
            if kw.startswith("if"):
                dead.append(1 if (kw == "if" and d.group(2) == "0") or
                            (kw == "ifdef" and d.group(2) == "CREDITD_TEST_CLOCK") else 0)
            elif kw in ("else", "elif") and dead:
                dead[-1] = 0	# the branch #if 0 leaves is taken
            elif kw == "endif" and dead:
                dead.pop()
        if was_dead or any(dead):
            lines[i] = ""
    return "\n".join(lines)


def blank(text):
    """The text with comments, string and character literals, preprocessor
    lines and what `#if 0` leaves out replaced by spaces (newlines kept, so
    offsets and line numbers stay); a string keeps its quotes."""
    text = unreached(text)
    out = []
    i, n = 0, len(text)
    line_start = True
    while i < n:
        c = text[i]
        if line_start and c in " \t":
            out.append(c)
            i += 1
            continue
        if line_start and c == "#":
            # A directive, with its continuation lines.
            j = i
            while j < n:
                if text[j] == "\n" and text[j - 1] != "\\":
                    break
                if text.startswith("/*", j):
                    k = text.find("*/", j + 2)
                    j = n if k < 0 else k + 2
                    continue
                j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
            continue
        line_start = False
        if c == "\n":
            out.append(c)
            line_start = True
            i += 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + re.sub(r"[^\n]", " ", text[i + 1:j - 1]) + c)
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def macros_of(text):
    """The function-like macros a file defines."""
    return set(re.findall(r"^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)\(", text, re.M))


def inlines_of(text):
    """The static inline functions a header defines."""
    return set(re.findall(r"static\s+inline\b[^;{=]*?\b([A-Za-z_]\w*)\s*\(", blank(text)))


def matching(s, i, open_c, close_c, step):
    """The index of the bracket matching s[i], looking in direction step."""
    depth = 0
    while 0 <= i < len(s):
        if s[i] == open_c:
            depth += 1
        elif s[i] == close_c:
            depth -= 1
            if depth == 0:
                return i
        i += step
    return -1


class Function:
    def __init__(self, name, path, static, params, body, line):
        self.name, self.path, self.static = name, path, static
        self.params, self.body, self.line = params, body, line


def definitions(path, text):
    """The function definitions of one C file: top-level `name(...) {`
    (each top-level brace is passed over whole, so the scan stays at
    the file's top level)."""
    s = blank(text)
    found = []
    last = 0	# where the current top-level declaration began
    i = 0
    while i < len(s):
        c = s[i]
        if c == "{":
            f = definition_at(path, s, last, i)
            end = matching(s, i, "{", "}", 1)
            if end < 0:
                raise SystemExit("walk: %s: unbalanced braces at line %d" % (path, s.count("\n", 0, i) + 1))
            if f is not None:
                f.body = s[i + 1:end]
                found.append(f)
            i, last = end + 1, end + 1
            continue
        if c == "}":
            raise SystemExit("walk: %s: unbalanced braces at line %d" % (path, s.count("\n", 0, i) + 1))
        if c == ";":
            last = i + 1
        i += 1
    return found


def definition_at(path, s, start, brace):
    """The function whose body opens at s[brace], or None (a struct, an
    enum, an initializer)."""
    head = s[start:brace].rstrip()
    # Attributes after the parameters.
    while head.endswith(")") and re.search(r"__attribute__\s*\(\(.*\)\)$", head, re.S):
        head = re.sub(r"__attribute__\s*\(\(.*\)\)$", "", head, flags=re.S).rstrip()
    if not head.endswith(")"):
        return None
    close = len(head) - 1
    open_ = matching(head, close, ")", "(", -1)
    if open_ < 0:
        return None
    before = head[:open_].rstrip()
    m = re.search(r"([A-Za-z_]\w*)$", before)
    if m is None or m.group(1) in KEYWORDS:
        return None
    if "=" in before or re.search(r"\b(struct|union|enum)\s*$", before[:m.start()]):
        return None
    name = m.group(1)
    static = re.search(r"\bstatic\b", before[:m.start()]) is not None
    line = s.count("\n", 0, start + m.start()) + 1
    return Function(name, path, static, head[open_ + 1:close], None, line)


# A function of the tree named but not called: handed on as a pointer.
VALUE = re.compile(r"(?<![\w.>])\s*\b([A-Za-z_]\w*)\b(?!\s*\()")
TAG = re.compile(r"\b(struct|union|enum)\s+$")
CALL = re.compile(r"(->|\.)?\s*\b([A-Za-z_]\w*)\s*\(|\)\s*\(")


# --follow: which values are the followed one's (docs/architecture.md,
# "Counting a request's walk"). A name is mentioned where it stands as a
# name of its own, not as a member (`x.ctx`, `x->ctx`).
def split_top(s, seps=","):
    """s split at the separators outside any bracket."""
    parts, depth, last = [], 0, 0
    for i, c in enumerate(s):
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c in seps and depth == 0:
            parts.append(s[last:i])
            last = i + 1
    parts.append(s[last:])
    return parts


def mentions(text, names):
    """Whether text names one of names (not as a member)."""
    for m in IDENT.finditer(text):
        if m.group(0) in names and not re.search(r"(\.|->)\s*$", text[max(0, m.start() - 8):m.start()]):
            return True
    return False


def param_names(params):
    """A definition's parameter names by position (None where unnamed;
    `...` is no position)."""
    out = []
    for p in split_top(params):
        p = p.strip()
        if p in ("", "void", "..."):
            continue
        fp = re.search(r"\(\s*\*\s*([A-Za-z_]\w*)\s*\)", p)	# a function pointer's `(*name)`
        if fp is not None:
            out.append(fp.group(1))
            continue
        ids = IDENT.findall(re.sub(r"\[[^]]*\]", "", p))	# a type, then the name
        out.append(ids[-1] if len(ids) >= 2 and ids[-1] not in KEYWORDS else None)
    return out


# `name = ` (not `==`, `!=`, `<=`, `>=`, nor a compound `+=`...), after a
# name that is no member (`x.name`, `x->name`).
ASSIGN = re.compile(r"(?<![\w.>])([A-Za-z_]\w*)\s*=(?!=)")


def assignments(body):
    """The names body assigns with `=` and the expressions they are
    assigned: [(name, expression)], a declaration's initializer included;
    the expression ends at the `;` or `,` outside brackets that ends it."""
    out = []
    for m in ASSIGN.finditer(body):
        if re.search(r"(->|\.)\s*$", body[max(0, m.start() - 8):m.start()]):
            continue	# `x -> name =`: a member
        depth, i = 0, m.end()
        while i < len(body):
            c = body[i]
            if c in "([{":
                depth += 1
            elif c in ")]}":
                depth -= 1
                if depth < 0:
                    break
            elif c in ";," and depth == 0:
                break
            i += 1
        out.append((m.group(1), body[m.end():i]))
    return out


def followed_in(f, names):
    """The names f's body follows from its parameters names: those, and
    any name assigned (anywhere in the body) an expression that mentions
    a name followed, until no more are."""
    names = set(names)
    pairs = assignments(f.body)
    grew = True
    while grew:
        grew = False
        for name, expr in pairs:
            if name not in names and mentions(expr, names):
                names.add(name)
                grew = True
    return names


class Tree:
    """The tree's functions, and the macros and header inlines it
    defines, read once."""

    def __init__(self, root):
        self.root = root
        self.by_file = {}	# path -> {name: Function}
        self.globals = {}	# name -> [Function] (non-static)
        self.macros = set()
        self.inlines = set()
        src = os.path.join(root, "src")
        paths = []
        for d, dirs, files in os.walk(src):
            dirs.sort()
            paths += [os.path.join(d, f) for f in sorted(files) if f.endswith((".c", ".h"))]
        for p in sorted(paths):
            rel = os.path.relpath(p, root)
            with open(p, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
            self.macros |= macros_of(text)
            if rel.endswith(".h"):
                self.inlines |= inlines_of(text)
                continue
            funcs = {}
            for f in definitions(rel, text):
                funcs.setdefault(f.name, f)
                if not f.static:
                    self.globals.setdefault(f.name, []).append(f)
            self.by_file[rel] = funcs

    def resolve(self, name, path):
        own = self.by_file.get(path, {}).get(name)
        if own is not None:
            return own
        g = self.globals.get(name)
        return g[0] if g else None

    def find(self, entry):
        """The function an entry names (FILE:FUNCTION, or a non-static
        FUNCTION), and the parameter it names to follow (ENTRY@PARAM)."""
        entry, _, param = entry.partition("@")
        return self.function(entry), param or None

    def function(self, entry):
        if ":" in entry:
            path, name = entry.rsplit(":", 1)
            path = os.path.normpath(path)
            f = self.by_file.get(path, {}).get(name)
            if f is None:
                raise SystemExit("walk: no function %s defined in %s" % (name, path))
            return f
        g = self.globals.get(entry)
        if not g:
            raise SystemExit("walk: no non-static function %s in src (give FILE:FUNCTION)" % entry)
        return g[0]

    def calls(self, f):
        """The calls f's body makes, in the order written: (kind, name,
        where, its opening parenthesis or None for a value), kind "call"
        for a function of the tree, else what is skipped."""
        params = set(IDENT.findall(f.params))
        out = []
        for m in VALUE.finditer(f.body):
            if TAG.search(f.body, max(0, m.start(1) - 16), m.start(1)) is not None:
                continue	# `struct name`: a type, not the function
            if m.group(1) != f.name and m.group(1) not in params and self.resolve(m.group(1), f.path) is not None:
                out.append(("value", m.group(1), m.start(), None))
        for m in CALL.finditer(f.body):
            member, name = m.group(1), m.group(2)
            if name is None:
                # `(*f)(`, not a cast's `(type)(`.
                open_ = matching(f.body, f.body.rfind(")", 0, m.end() - 1), ")", "(", -1)
                inner = f.body[open_ + 1:m.end()].lstrip()
                if inner.startswith("*"):
                    out.append(("pointer", "(*" + " ".join(IDENT.findall(inner)[:1]) + ")(", m.start(), m.end() - 1))
            elif member:
                out.append(("pointer", member + name, m.start(), m.end() - 1))
            elif name in KEYWORDS:
                continue
            elif self.resolve(name, f.path) is not None:
                out.append(("call", name, m.start(), m.end() - 1))
            elif name in params or re.search(r"\(\s*\*\s*%s\s*\)" % re.escape(name), f.body):
                out.append(("pointer", name, m.start(), m.end() - 1))
            elif name in self.macros:
                out.append(("macro", name, m.start(), m.end() - 1))
            elif name in self.inlines:
                out.append(("inline", name, m.start(), m.end() - 1))
        out.sort(key=lambda c: c[2])
        return out


def call_args(body, paren):
    """The arguments of the call whose parentheses open at body[paren]."""
    inner = body[paren + 1:matching(body, paren, "(", ")", 1)]
    return [] if inner.strip() == "" else split_top(inner)


def value_context(body, at):
    """What a function named as a value at body[at] is handed to: the
    parentheses it stands in (a call's arguments), else its statement."""
    depth, i = 0, at - 1
    while i >= 0:
        c = body[i]
        if c in ")]":
            depth += 1
        elif c in "([" and depth > 0:
            depth -= 1
        elif c == "(":
            return body[i + 1:matching(body, i, "(", ")", 1)]
        elif c in ";{}" and depth == 0:
            break
        i -= 1
    end = body.find(";", at)
    return body[i + 1:len(body) if end < 0 else end]


class Walk:
    """A walk, every call followed or (follow) only the calls that pass
    the followed value on."""

    def __init__(self, tree, skip=(), follow=False):
        self.tree = tree
        self.skip = set(skip)
        self.follow = follow
        self.entered = set()	# (path, name); following, (path, name, parameter position)
        self.events = []	# (path, function name): the trail, event by event
        self.functions = []	# [depth, path, name, first event, last event, parameters followed]
        self.unresolved = {}	# (kind, name, where) -> count

    def skipped(self, f):
        return f.name in self.skip or "%s:%s" % (f.path, f.name) in self.skip

    def run(self, f, param=None):
        """Walk from f; following, from its parameter param."""
        positions = None
        if self.follow:
            positions = [i for i, n in enumerate(param_names(f.params)) if n == param]
            if not positions:
                raise SystemExit("walk: %s has no parameter %s" % (f.name, param))
        if self.skipped(f) or self.is_entered(f, positions):
            return
        # Iterative depth-first walk (deep call chains must not meet
        # Python's recursion limit): a frame is a function, its
        # remaining calls and the names it follows.
        stack = [self.enter(f, 0, positions)]
        while stack:
            fn, calls, depth, _, names = stack[-1]
            if not calls:
                self.functions[stack[-1][3]][4] = len(self.events) - 1
                stack.pop()
                if stack:
                    self.events.append((stack[-1][0].path, stack[-1][0].name))
                continue
            kind, name, at, paren = calls.pop(0)
            passed = None
            if self.follow:
                if paren is None:
                    passed = [0] if mentions(value_context(fn.body, at), names) else []
                else:
                    passed = [i for i, a in enumerate(call_args(fn.body, paren)) if mentions(a, names)]
                if not passed:
                    continue	# passes nothing followed on
            if kind != "call":
                key = (kind, name, "%s:%s" % (fn.path, fn.name))
                self.unresolved[key] = self.unresolved.get(key, 0) + 1
                continue
            g = self.tree.resolve(name, fn.path)
            if self.follow:
                gparams = param_names(g.params)
                passed = [i for i in passed if i < len(gparams) and gparams[i] is not None]
                if not passed:
                    continue	# only into `...`
            if self.skipped(g) or self.is_entered(g, passed):
                continue
            stack.append(self.enter(g, depth + 1, passed))

    def cut(self, n):
        """The trail cut after its first n events (what a measure that
        stops there counts): the functions entered after it dropped."""
        self.events = self.events[:n]
        self.functions = [f[:4] + [min(f[4], n - 1)] + f[5:] for f in self.functions if f[3] < n]

    def is_entered(self, f, positions):
        if positions is None:
            return (f.path, f.name) in self.entered
        return all((f.path, f.name, i) in self.entered for i in positions)

    def enter(self, f, depth, positions):
        follows = []
        if positions is None:
            self.entered.add((f.path, f.name))
        else:
            self.entered |= {(f.path, f.name, i) for i in positions}
            params = param_names(f.params)
            follows = [params[i] for i in positions]
        self.functions.append([depth, f.path, f.name, len(self.events), None, follows])
        self.events.append((f.path, f.name))
        names = followed_in(f, follows) if self.follow else None
        return [f, self.tree.calls(f), depth, len(self.functions) - 1, names]

    def figures(self):
        stays = []	# [path, events, function at its start, a return?, first event]
        seen = set()
        for i, (path, name) in enumerate(self.events):
            if stays and stays[-1][0] == path:
                stays[-1][1] += 1
                continue
            stays.append([path, 1, name, path in seen, i])
            seen.add(path)
        rooms = len(seen)
        returns = sum(1 for s in stays if s[3])
        assert returns == len(stays) - rooms
        return stays, rooms, returns


def summary(walk, entries):
    stays, rooms, returns = walk.figures()
    per_file = {}
    per_function = {}
    order = []
    for path, events, name, back, _ in stays:
        if path not in per_file:
            per_file[path] = {"file": path, "stays": 0, "returns": 0, "functions": 0}
            order.append(path)
        per_file[path]["stays"] += 1
        if back:
            per_file[path]["returns"] += 1
            k = "%s:%s" % (path, name)
            per_function[k] = per_function.get(k, 0) + 1
    for f in walk.functions:
        per_file[f[1]]["functions"] += 1
    # The returns a function's own walk holds (its callees' included):
    # the stays that are returns and begin after its entry, until it ends.
    back_at = [s[4] for s in stays if s[3]]
    within = [sum(1 for i in back_at if f[3] < i <= f[4]) for f in walk.functions]
    return {
        "entry": entries,
        "rooms": rooms,
        "stays": len(stays),
        "returns": returns,
        "functions_entered": len(walk.functions),
        "trail": [[s[0], s[1]] for s in stays],
        "files": [per_file[p] for p in order],
        "returns_by_function": sorted(([k, v] for k, v in per_function.items()), key=lambda kv: (-kv[1], kv[0])),
        "functions": [dict({"depth": f[0], "file": f[1], "function": f[2], "returns_within": r},
                           **({"follows": f[5]} if walk.follow else {}))
                      for f, r in zip(walk.functions, within)],
        "unresolved": [{"kind": k, "call": n, "in": w, "count": c}
                       for (k, n, w), c in sorted(walk.unresolved.items(), key=lambda kv: (kv[0][2], kv[0][1]))],
    }


def stem(path):
    return os.path.splitext(os.path.basename(path))[0]


def print_summary(s, functions, top):
    print("walk of %s%s" % (" + ".join(s["entry"]), ", following the parameters named" if "@" in s["entry"][0] else ""))
    print("rooms %d  stays %d  returns %d  (functions entered %d)" %
          (s["rooms"], s["stays"], s["returns"], s["functions_entered"]))
    print("\nfiles (in the order first entered): stays, returns, functions entered")
    for f in s["files"]:
        print("  %-40s %4d %4d %4d" % (f["file"], f["stays"], f["returns"], f["functions"]))
    print("\ntrail (file, events in the stay):")
    line = " "
    for path, n in s["trail"]:
        item = " %s %d" % (stem(path), n)
        if len(line) + len(item) > 78:
            print(line)
            line = " "
        line += item
    print(line)
    if top:
        print("\nreturns by the function a stay starts in (top %d):" % top)
        for k, v in s["returns_by_function"][:top]:
            print("  %4d  %s" % (v, k))
    if functions:
        print("\nfunctions entered (nested by the call that entered them; the returns their walk holds):")
        for f in s["functions"]:
            print("  %s%s  (%s)%s" % ("  " * f["depth"], f["function"] + (
                "(%s)" % ", ".join(f["follows"]) if "follows" in f else ""), f["file"],
                                      "  returns within: %d" % f["returns_within"] if f["returns_within"] else ""))
    groups = {}
    for u in s["unresolved"]:
        g = groups.setdefault((u["kind"], u["call"]), [0, []])
        g[0] += u["count"]
        g[1].append(u["in"].rsplit(":", 1)[1])
    print("\nunresolved calls (not followed; kind, call, times met, in which functions): %d" % len(groups))
    for (kind, call), (count, where) in sorted(groups.items()):
        shown = where if functions or len(where) <= 4 else where[:4] + ["%d more" % (len(where) - 4)]
        print("  %-7s %-28s %3d  %s" % (kind, call, count, ", ".join(shown)))


# The figures ./dev walk --report prints: the guard's four operations and
# one gateway call (docs/architecture.md, "Counting a request's walk"),
# each walked twice: every call followed, and following the request (the
# parameter after each entry's `@`; see the header), with the targets of
# the guard's reshaping, which apply to the second, where it has one: a
# gateway call's is its worker's walk from api_gw_call following ctx (the
# walk whose 37 / 195 / 158 on the tree before the reshaping the targets
# were set against); the call's later steps are printed beside it. A
# gateway call goes on after its route handler returns, in other threads
# and through pointers the walk cannot see (the worker's hand-off, the
# loop's inbox, curl's callbacks, the ending threads' queue, the worker's
# edge functions), so it is walked as its steps in the order they run, as
# one trail; a whole and a streamed answer part at gwcall_end (end_whole,
# end_stream) and a stream's events come through on_event. Each step
# follows the value that is the call in it: the api_ctx, the job, the
# gwcall, the provider_call, curl's and the loop's callback argument (the
# transfer, the gwcall), the worker's request, and for the loop's hearing
# of an end the multi the ended transfer comes out of.
GW = "src/gateway/"
GW_STEPS = [
    "src/http/api_gateway.c:api_gw_call@ctx",	# the worker: read, priced, admitted, held
    GW + "gateway.c:gateway_run@job",	# handed to the loop
    GW + "gwcall.c:gwcall_start@c", GW + "provider.c:provider_start@call",	# the loop starts it
    GW + "provider.c:on_header@arg", GW + "gwcall_io.c:on_head@arg",	# curl's callbacks, as they come
    GW + "provider.c:on_body@arg", GW + "gwcall_io.c:on_data@arg",
]
GW_END = [
    "src/http/worker.c:gw_write@req",	# the client's bytes, through the worker's edge
    GW + "provider.c:provider_next_done@m",	# the loop hears the answer ended
    GW + "gwcall.c:gwcall_end@c", "src/http/worker.c:gw_end@req",	# an ending thread settles it
    GW + "gwcall.c:gwcall_send@c", "src/http/worker.c:gw_send@req",	# the loop sends the rest
    GW + "gwcall.c:gwcall_finish@c", "src/http/worker.c:gw_finish@req",	# and ends the request
]
REPORT = [
    ("authorize", ["src/http/api_guard.c:api_authorize@ctx"], [], (12, 20)),
    ("settle", ["src/http/api_guard.c:api_settle@ctx"], [], None),
    ("release", ["src/http/api_guard.c:api_release@ctx"], [], None),
    ("usage", ["src/http/api_guard.c:api_usage@ctx"], [], None),
    ("gateway call, admission", ["src/http/api_gateway.c:api_gw_call@ctx"], [], (16, 30)),
    ("gateway call, whole", GW_STEPS + GW_END, [GW + "gwcall.c:end_stream"], None),
    ("gateway call, streamed", GW_STEPS + [GW + "gwcall_io.c:on_event@arg"] + GW_END, [GW + "gwcall.c:end_whole"], None),
]


def walked(tree, entries, skip, follow):
    """A walk of entries in turn: every call, or following each entry's
    parameter (ENTRY@PARAM)."""
    w = Walk(tree, skip, follow)
    for e in entries:
        f, param = tree.find(e)
        w.run(f, param)
    return w


def report(tree, as_json):
    rows = []
    for name, entries, skip, target in REPORT:
        row = {"walk": name, "entry": entries, "skip": skip,
               "target": None if target is None else {"rooms": target[0], "returns": target[1]}}
        for key, follow in (("all_calls", False), ("following", True)):
            w = walked(tree, entries if follow else [e.partition("@")[0] for e in entries], skip, follow)
            stays, rooms, returns = w.figures()
            row[key] = {"rooms": rooms, "stays": len(stays), "returns": returns}
        rows.append(row)
    if as_json:
        print(json.dumps(rows, indent=1))
        return
    print("%-24s %-19s %-19s %s" % ("", "every call", "following the request", ""))
    print("%-24s %5s %5s %7s %5s %5s %7s  %s" % ("walk", "rooms", "stays", "returns", "rooms", "stays", "returns",
                                                 "target (rooms, returns; following)"))
    for r in rows:
        t, a, f = r["target"], r["all_calls"], r["following"]
        print("%-24s %5d %5d %7d %5d %5d %7d  %s" % (r["walk"], a["rooms"], a["stays"], a["returns"],
                                                     f["rooms"], f["stays"], f["returns"],
                                                     "-" if t is None else "<= %d, <= %d" % (t["rooms"], t["returns"])))


def main(argv):
    ap = argparse.ArgumentParser(prog="walk", description="Count a request's walk through src (rooms, stays, returns).")
    ap.add_argument("entry", nargs="*", help="FILE:FUNCTION[@PARAM], walked in turn as one trail")
    ap.add_argument("--root", default=os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")))
    ap.add_argument("--functions", action="store_true", help="list the functions entered")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--top", type=int, default=10, help="the functions whose stays return most (0: none)")
    ap.add_argument("--skip", action="append", default=[], help="a function (NAME or FILE:NAME) not entered")
    ap.add_argument("--follow", metavar="PARAM",
                    help="follow only the calls that pass the entry's parameter PARAM on (or ENTRY@PARAM)")
    ap.add_argument("--cut", type=int, metavar="N", help="count the trail's first N events only")
    ap.add_argument("--max-rooms", type=int)
    ap.add_argument("--max-returns", type=int)
    ap.add_argument("--report", action="store_true", help="the figures of the guard's operations and a gateway call, every call and following the request")
    a = ap.parse_args(argv)
    if a.cut is not None and a.cut < 1:
        ap.error("--cut N: N at least 1")
    tree = Tree(a.root)
    if a.report:
        report(tree, a.json)
        return 0
    if not a.entry:
        ap.error("give an ENTRY (FILE:FUNCTION) or --report")
    entries = ["%s@%s" % (e, a.follow) if a.follow and "@" not in e else e for e in a.entry]
    follow = [e for e in entries if "@" in e]
    if follow and len(follow) != len(entries):
        ap.error("following, every entry needs its parameter (--follow PARAM, or ENTRY@PARAM)")
    w = walked(tree, entries, a.skip, bool(follow))
    if a.cut is not None:
        w.cut(a.cut)
    s = summary(w, entries)
    if a.json:
        if not a.functions:
            del s["functions"]
        print(json.dumps(s, indent=1))
    else:
        print_summary(s, a.functions, a.top)
    over = []
    if a.max_rooms is not None and s["rooms"] > a.max_rooms:
        over.append("%d rooms, above %d" % (s["rooms"], a.max_rooms))
    if a.max_returns is not None and s["returns"] > a.max_returns:
        over.append("%d returns, above %d" % (s["returns"], a.max_returns))
    if over:
        print("walk: %s" % "; ".join(over), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)	# read through head: end as any filter does
    sys.exit(main(sys.argv[1:]))
