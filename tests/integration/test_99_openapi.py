"""test_99_openapi.py: docs/openapi.yaml against the code and the real answers.

The description must list exactly the routes of routes[] in src/http/router.c
(method, path with its '*' segments as {params}, operationId = the route's
name, security = its scope) and the HEAD the router answers on each GET
route (operationId: the GET's name + "_head"), parse as OpenAPI 3.1, and know every error of
src/core/errors.c with its status and type. Then every answer the integration
tests got (lib.api() records each one; this file runs last) is matched to
its operation and status and its JSON body validated against the schema
(jsonschema, Draft 2020-12)."""
import json
import os
import re

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from lib import ENV, Fail, check, eq

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEC = os.path.join(ROOT, "docs", "openapi.yaml")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# The security requirement each scope of routes[] stands for.
SECURITY = {
    "0": [],
    "KEY_SCOPE_GUARD": [{"apiKey": ["guard"]}],
    "KEY_SCOPE_READ": [{"apiKey": ["read"]}],
    "KEY_SCOPE_APP": [{"apiKey": ["app"]}],
    "KEY_SCOPE_ADMIN": [{"apiKey": ["admin"]}],
    "ROUTE_BROWSER": [{"browserToken": []}],
    "ROUTE_HOLD": [{"apiKey": ["guard"]}, {"apiKey": ["read"]}, {"apiKey": ["app"]}, {"apiKey": ["gateway"]}],
    "ROUTE_OPERATOR": [{"apiKey": ["read"]}, {"apiKey": ["admin"]}],
    "ROUTE_PREFLIGHT": [],
    "ROUTE_STRIPE": [{"stripeSignature": []}],
    "ROUTE_PROVIDER_SIGNED": [{"openaiWebhookSignature": []}],
    "ROUTE_CONSOLE": [{"consoleSession": []}],
}
# Answers of the router itself, for a path no operation takes.
ROUTER_ANSWERS = {400: "BadRequest", 404: "NotFound", 405: "MethodNotAllowed"}
MIN_VALIDATED = 500

_spec = None


def spec():
    global _spec
    if _spec is None:
        with open(SPEC) as f:
            _spec = yaml.safe_load(f)
    return _spec


def router_routes():
    """(method, pattern, scope, name) of every entry of routes[] in src/http/router.c,
    and the HEAD of each GET route (router.c's method_matches). The
    gateway's routes (/openai/, /anthropic/) are the providers' own APIs,
    documented by them (docs/gateway.md), not in docs/openapi.yaml."""
    with open(os.path.join(ROOT, "src", "http", "router.c")) as f:
        text = f.read()
    table = text[text.index("routes[] = {"):]
    table = table[:table.index("};")]
    found = re.findall(r'\{"([A-Z]+)",\s*"([^"]+)",\s*([-\w]+),\s*\w+,\s*"(\w+)"(?:,\s*\w+)?\}', table)
    check(len(found) >= 10, "could not read routes[] in router.c")
    found = [r for r in found if not r[1].startswith(("/openai/", "/anthropic/"))]
    return found + [("HEAD", p, s, n + "_head") for m, p, s, n in found if m == "GET"]


def error_rows():
    """(status, type, code) of every error of src/core/errors.c."""
    with open(os.path.join(ROOT, "src", "core", "errors.c")) as f:
        text = f.read()
    rows = re.findall(r'\[CD_E_\w+\]\s*=\s*\{(\d+),\s*"(\w+)",\s*"(\w+)"', text)
    check(len(rows) >= 10, "could not read err_table in errors.c")
    return [(int(s), t, c) for s, t, c in rows]


def operations():
    """{(METHOD, router pattern): (yaml path, operation, path item)}."""
    ops = {}
    for path, item in spec()["paths"].items():
        pattern = re.sub(r"\{[^}/]+\}", "*", path)
        for m in METHODS:
            if m in item:
                ops[(m.upper(), pattern)] = (path, item[m], item)
    return ops


def resolve(node):
    """Follows a local $ref (#/a/b) to what it names."""
    seen = 0
    while isinstance(node, dict) and "$ref" in node and len(node) <= 2:
        ref = node["$ref"]
        check(ref.startswith("#/"), "non-local $ref %s" % ref)
        node = spec()
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            check(isinstance(node, dict) and part in node, "unresolved $ref %s" % ref)
            node = node[part]
        seen += 1
        check(seen < 20, "$ref loop at %s" % ref)
    return node


_validators = {}


def validator(schema):
    """A Draft 2020-12 validator of schema, whose #/components refs resolve in the spec."""
    v = _validators.get(id(schema))
    if v is None:
        root = dict(schema)
        root["components"] = spec()["components"]
        v = _validators[id(schema)] = Draft202012Validator(root)
    return v


def invalid(schema, body):
    """None when body validates, else the best error as a sentence."""
    err = best_match(validator(schema).iter_errors(body))
    if err is None:
        return None
    where = "/".join(str(p) for p in err.absolute_path)
    return "%s%s" % ("at %s: " % where if where else "", err.message[:300])


def json_schema_of(response):
    """The application/json schema of a response object, or None."""
    content = resolve(response).get("content") or {}
    media = content.get("application/json")
    return media.get("schema") if media else None


# ---- the description itself --------------------------------------------

def test_spec_is_openapi_3_1_and_self_consistent():
    s = spec()
    check(str(s.get("openapi", "")).startswith("3.1."), "openapi: %r is not 3.1.x" % s.get("openapi"))
    check(s.get("info", {}).get("title") and s["info"].get("version"), "info.title and info.version")
    check(isinstance(s.get("paths"), dict) and s["paths"], "paths")
    for name in ("apiKey", "browserToken", "stripeSignature"):
        check(name in s["components"]["securitySchemes"], "security scheme %s" % name)

    def walk(node, where):
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                resolve({"$ref": node["$ref"]})
            for k, v in node.items():
                walk(v, where + "/" + str(k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, "%s/%d" % (where, i))
    walk(s, "#")
    for name, schema in s["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)
    for (method, pattern), (path, op, _item) in operations().items():
        where = "%s %s" % (method, path)
        responses = op.get("responses")
        check(isinstance(responses, dict) and responses, "%s lists no responses" % where)
        check(any(str(code)[0] in "23" for code in responses), "%s has no success response" % where)
        for code, r in responses.items():
            check(re.fullmatch(r"[1-5][0-9][0-9]", str(code)), "%s: response key %r" % (where, code))
            check(resolve(r).get("description"), "%s %s has no description" % (where, code))
            schema = json_schema_of(r)
            if schema is not None:
                Draft202012Validator.check_schema(schema)
        body = op.get("requestBody")
        if body is not None:
            for media in resolve(body).get("content", {}).values():
                Draft202012Validator.check_schema(media.get("schema", {}))


def test_every_route_of_the_router_and_no_other():
    routes = router_routes()
    ops = operations()
    want = {(m, p) for m, p, _s, _n in routes}
    eq(len(want), len(routes), "routes[] has no duplicates")
    missing = sorted(want - set(ops))
    extra = sorted(set(ops) - want)
    check(not missing, "routes of router.c missing from docs/openapi.yaml: %s" % missing)
    check(not extra, "operations of docs/openapi.yaml not in router.c: %s" % extra)
    for method, pattern, scope, name in routes:
        path, op, item = ops[(method, pattern)]
        where = "%s %s" % (method, path)
        eq(op.get("operationId"), name, "%s operationId (the route's name)" % where)
        check(scope in SECURITY, "%s: unknown scope %s in router.c" % (where, scope))
        eq(op.get("security"), SECURITY[scope], "%s security for %s" % (where, scope))
        declared = {resolve(p)["name"] for p in item.get("parameters", []) + op.get("parameters", [])
                    if resolve(p).get("in") == "path" and resolve(p).get("required") is True}
        eq(declared, set(re.findall(r"\{([^}/]+)\}", path)), "%s path parameters" % where)
        if method in ("POST", "PUT", "PATCH"):
            check(op.get("requestBody"), "%s has no requestBody" % where)


def test_every_error_code_with_its_status_and_type():
    s = spec()
    rows = error_rows()
    error = s["components"]["schemas"]["Error"]["properties"]["error"]["properties"]
    eq(set(resolve(error["code"])["enum"]), {c for _s, _t, c in rows}, "Error.code enum vs errors.c")
    eq(set(resolve(error["type"])["enum"]), {t for _s, t, _c in rows}, "Error.type enum vs errors.c")
    status_of = {c: st for st, _t, c in rows}
    type_of = {c: t for _st, t, c in rows}
    # Every error response the operations (or the router) may give.
    by_status = {}
    for (_m, _p), (path, op, _item) in operations().items():
        for code, r in op["responses"].items():
            if int(code) >= 400:
                schema = json_schema_of(r)
                check(schema is not None or not resolve(r).get("content"),
                      "%s %s: an error body that is not the JSON Error" % (path, code))
                if schema is None:
                    continue        # no body at all (GET /metrics' 500)
                by_status.setdefault(int(code), {})[id(schema)] = schema
    for st, name in ROUTER_ANSWERS.items():
        schema = json_schema_of(s["components"]["responses"][name])
        by_status.setdefault(st, {})[id(schema)] = schema

    def sample(code):
        return {"error": {"type": type_of[code], "code": code, "message": "m", "param": None,
                          "available_micros": 0, "required_micros": 1}}
    for st, typ, code in rows:
        if st < 400:
            continue
        check(st in by_status, "no response of status %d for %s" % (st, code))
        check(any(invalid(sc, sample(code)) is None for sc in by_status[st].values()),
              "no %d response accepts code %s (type %s)" % (st, code, typ))
    # And no error response accepts a (type, code) errors.c gives another status.
    known = {(st, t, c) for st, t, c in rows}
    for st, schemas in by_status.items():
        for schema in schemas.values():
            for typ in set(type_of.values()):
                for code in status_of:
                    body = sample(code)
                    body["error"]["type"] = typ
                    if invalid(schema, body) is None:
                        check((st, typ, code) in known, "a %d response accepts type %s code %s, which errors.c "
                              "does not answer with %d" % (st, typ, code, st))


# ---- the real answers ---------------------------------------------------

def record_path():
    return os.environ.get("CREDITD_OPENAPI_RECORD") or os.path.join(ENV["CREDITD_STACK_DIR"],
                                                                     "openapi-record.jsonl")


def segments_match(template, path):
    t, p = template.split("/"), path.split("/")
    if len(t) != len(p):
        return False
    return all(ts == ps if ts != "*" else (ps != "") for ts, ps in zip(t, p))


def _schema_of(key):
    """The schema a validation key names: ("router", response name) or
    (method, pattern, status, content type) of an operation."""
    if key[0] == "router":
        return json_schema_of(spec()["components"]["responses"][key[1]])
    _ypath, op, _item = operations()[(key[0], key[1])]
    return resolve(op["responses"][str(key[2])])["content"][key[3]]["schema"]


def _validate_part(part):
    """[(key, body text)] -> [message or None], in a worker of its own."""
    return [invalid(_schema_of(key), json.loads(text)) for key, text in part]


def _validate_all(pairs):
    """Every distinct (schema, body) pair validated once, the work split
    over the machine's cores: forked children (sharing the loaded spec),
    each writing its verdicts to a pipe as JSON."""
    pairs = list(pairs)
    n = max(1, min(os.cpu_count() or 1, 4))
    if n == 1 or len(pairs) < 2000:
        return dict(zip(pairs, _validate_part(pairs)))
    spec()
    operations()
    parts = [pairs[i::n] for i in range(n)]
    children = []
    for part in parts:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            code = 0
            try:
                data = json.dumps(_validate_part(part)).encode()
                while data:
                    data = data[os.write(w, data):]
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(w)
        children.append((pid, r, part))
    out = {}
    for pid, r, part in children:
        chunks = []
        while True:
            chunk = os.read(r, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        os.close(r)
        _pid, status = os.waitpid(pid, 0)
        check(status == 0, "a validating child failed (status %d)" % status)
        out.update(zip(part, json.loads(b"".join(chunks))))
    return out


def test_real_answers_validate_against_the_spec():
    routes = router_routes()
    ops = operations()
    path = record_path()
    check(os.path.exists(path), "no recorded answers in %s: run the whole suite (./dev itest)" % path)
    failures, skipped = [], {}
    validated = 0
    per_op, per_op_ok = {}, {}
    with open(path) as f:
        records = [json.loads(line) for line in f if line.strip()]
    # The next run (on a stack that lives on) starts afresh; this one's
    # answers stay at hand for a look.
    os.replace(path, path + ".checked")
    matches = {}
    # Each answer's body is validated against its schema below, once per
    # distinct (schema, body): here, what each answer is to be held to.
    todo = []      # (where, key, body text, operation name or None, status)
    for rec in records:
        if rec["stripe"]:
            continue        # the Stripe stand-in, not creditd
        method, rpath, status = rec["method"], rec["path"], rec["status"]
        if rpath.startswith(("/openai/", "/anthropic/")):
            # The gateway's routes are the providers' own APIs (docs/gateway.md),
            # not in docs/openapi.yaml (router_routes leaves them out too).
            skipped["gateway"] = skipped.get("gateway", 0) + 1
            continue
        ctype = (rec.get("content_type") or "").split(";")[0].strip().lower()
        body = rec.get("body")
        where = "%s %s %d" % (method, rpath, status)
        matched = matches.get(rpath)
        if matched is None:
            matched = matches[rpath] = [(m, p) for m, p, _s, _n in routes if segments_match(p, rpath)]
        op_key = next(((m, p) for m, p in matched if m == method), None)
        if op_key is None:
            # The router's own answer: no route (404, 400 for a malformed
            # path) or no such method on the path (405). A page that is not
            # JSON came from the web server in front (its /demo/, ...).
            if ctype != "application/json":
                skipped["not creditd's"] = skipped.get("not creditd's", 0) + 1
                continue
            want = 405 if matched else None
            name = ROUTER_ANSWERS.get(status)
            if name is None or (want is not None and status != want):
                failures.append("%s: no operation %s %s, and not a router error" % (where, method, rpath))
                continue
            if method == "HEAD":
                # The router's error without its body.
                if body is not None:
                    failures.append("%s: a body on HEAD" % where)
                else:
                    validated += 1
                continue
            todo.append(("%s (router answer)" % where, ("router", name), json.dumps(body, sort_keys=True),
                         None, status))
            continue
        ypath, op, _item = ops[op_key]
        name = op["operationId"]
        per_op[name] = per_op.get(name, 0) + 1
        if ctype == "text/html" and status >= 500:
            # nginx's or Apache's own page while creditd is down or not yet
            # spawned (mod_fcgid's 503): creditd never answers HTML.
            skipped["web server error pages"] = skipped.get("web server error pages", 0) + 1
            continue
        resp = op["responses"].get(str(status))
        if resp is None:
            failures.append("%s: status %d not in the spec of %s %s (%s)" % (where, status, method, ypath,
                                                                             json.dumps(body)[:200]))
            continue
        content = resolve(resp).get("content") or {}
        if not content:
            if body is not None:
                failures.append("%s: the spec says no body, got %s" % (where, json.dumps(body)[:200]))
                continue
        elif ctype not in content:
            failures.append("%s: Content-Type %r, the spec has %s" % (where, rec.get("content_type"),
                                                                        sorted(content)))
            continue
        elif ctype == "application/json":
            if body is None:
                failures.append("%s: no JSON body" % where)
                continue
            todo.append((where, (op_key[0], op_key[1], status, ctype), json.dumps(body, sort_keys=True),
                         name, status))
            continue
        validated += 1
        if 200 <= status < 400:
            per_op_ok[name] = per_op_ok.get(name, 0) + 1
    verdicts = _validate_all({(key, text) for _w, key, text, _n, _s in todo})
    for where, key, text, name, status in todo:
        msg = verdicts[(key, text)]
        if msg:
            failures.append("%s: %s (body %s)" % (where, msg, text[:300]))
            continue
        validated += 1
        if name is not None and 200 <= status < 400:
            per_op_ok[name] = per_op_ok.get(name, 0) + 1
    print("    openapi: %d recorded answers, %d validated (%d distinct), skipped %s, %d operations answered, "
          "%d with a validated success" % (len(records), validated, len(verdicts), skipped or "none", len(per_op),
                                           len(per_op_ok)))
    if failures:
        raise Fail("%d answers disagree with docs/openapi.yaml, first ones:\n    %s"
                   % (len(failures), "\n    ".join(failures[:8])))
    check(validated > MIN_VALIDATED, "only %d answers validated (want > %d): run the whole suite"
          % (validated, MIN_VALIDATED))
    # Not vacuous: most operations were seen succeeding, and each one that
    # was answered at all was answered with a success at least once.
    names = [n for _m, _p, _s, n in routes]
    without = [n for n in names if n in per_op and n not in per_op_ok]
    check(not without, "operations answered but never with a validated success: %s" % without)
    check(len(per_op_ok) >= 0.8 * len(names), "only %d of %d operations had a validated success; none for %s"
          % (len(per_op_ok), len(names), [n for n in names if n not in per_op_ok]))


def test_the_stripe_events_of_install_md_are_those_webhook_c_acts_on():
    with open(os.path.join(ROOT, "src", "stripe", "webhook.c")) as f:
        code = f.read()
    table = code[code.index("kinds[] = {"):code.index("};", code.index("kinds[] = {"))]
    acted = set(re.findall(r'\{ "([a-z_.]+)", LEDGER_NEWS_', table))
    check(len(acted) >= 10, "the kinds table of webhook.c read: %s" % sorted(acted))
    with open(os.path.join(ROOT, "docs", "install.md")) as f:
        doc = f.read()
    start = doc.index("<!-- stripe-events")
    block = doc[start:doc.index("<!-- /stripe-events -->", start)]
    listed = set()
    for line in block.splitlines():
        if line.startswith("- "):
            listed |= set(re.findall(r"`([a-z_.]+)`", line.split(":")[0]))
    eq(sorted(listed), sorted(acted), "docs/install.md lists the events webhook.c acts on, and no other")


def test_the_license_is_one_text():
    """LICENSE at the root is the MIT text debian/copyright carries, and
    every client's manifest says MIT."""
    with open(os.path.join(ROOT, "LICENSE")) as f:
        lic = f.read()
    check(lic.startswith("MIT License\n"), "LICENSE names MIT")
    with open(os.path.join(ROOT, "debian", "copyright")) as f:
        deb = f.read()
    body = deb[deb.index("License: MIT\n Permission"):].split("\n", 1)[1]
    words = lambda t: re.sub(r"\s+", " ", re.sub(r"(?m)^ \.$", "", t)).strip()
    check(words(body) in words(lic), "LICENSE has debian/copyright's text")
    with open(os.path.join(ROOT, "clients", "node", "package.json")) as f:
        eq(json.load(f)["license"], "MIT", "the Node client's license")
    with open(os.path.join(ROOT, "clients", "php", "composer.json")) as f:
        eq(json.load(f)["license"], "MIT", "the PHP client's license")


def test_api_md_error_table_is_errors_c():
    """docs/api.md's error table: every (status, code, type) errors.c
    answers is in a row of it, with its status and type, and the table
    names no code errors.c does not give."""
    with open(os.path.join(ROOT, "docs", "api.md")) as f:
        text = f.read()
    table = text[text.index("| status | code | type |"):]
    table = table[:table.index("\n\n")]
    documented = set()
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        status, codes, typ = int(cells[0]), re.findall(r"`(\w+)`", cells[1]), re.match(r"`(\w+)`", cells[2])
        check(typ is not None, "a type in the row %r" % line)
        for code in codes:
            documented.add((status, typ.group(1), code))
    rows = {(st, t, c) for st, t, c in error_rows() if st >= 400}
    eq(sorted(rows - documented), [], "errors.c's codes missing from api.md's table (status, type, code)")
    eq(sorted(documented - rows), [], "api.md's table rows errors.c does not answer")


def test_the_clients_vocabulary_is_errors_c():
    """clients/vocabulary.json, which each client's own suite holds its
    classes to, names every (status, code) errors.c answers, and no other."""
    with open(os.path.join(ROOT, "clients", "vocabulary.json")) as f:
        vocabulary = json.load(f)
    listed = sorted((row["status"], row["code"]) for row in vocabulary["codes"])
    eq(listed, sorted({(st, c) for st, t, c in error_rows() if st >= 400}), "vocabulary.json's codes are errors.c's")
    for row in vocabulary["codes"]:
        check(row["class"] in vocabulary["classes"], "a class of its own for %r" % row)


def test_the_clients_carry_creditds_version():
    """configure.ac's AC_INIT version is each client's: Python's _version.py
    (pyproject.toml reads it), Node's package.json and VERSION, PHP's
    Client::VERSION (composer.json keeps no version)."""
    def read(*path):
        with open(os.path.join(ROOT, *path)) as f:
            return f.read()
    version = re.search(r"AC_INIT\(\[creditd\],\s*\[([^\]]+)\]", read("configure.ac")).group(1)
    found = {
        "python": re.search(r'VERSION = "([^"]+)"', read("clients", "python", "src", "creditd", "_version.py")),
        "pyproject": re.search(r'version = \{attr = "creditd\._version\.VERSION"\}', read("clients", "python",
                                                                                       "pyproject.toml")),
        "node package.json": json.loads(read("clients", "node", "package.json"))["version"],
        "node VERSION": re.search(r"export const VERSION = '([^']+)'", read("clients", "node", "src", "client.js")),
        "php": re.search(r"const VERSION = '([^']+)'", read("clients", "php", "src", "Client.php")),
    }
    check(found["pyproject"] is not None, "pyproject.toml takes its version from creditd/_version.py")
    del found["pyproject"]
    got = {k: (v if isinstance(v, str) else v.group(1) if v else None) for k, v in found.items()}
    eq(got, {k: version for k in got}, "each client's version is configure.ac's")
    check("version" not in json.loads(read("clients", "php", "composer.json")), "composer.json keeps no version")


def test_the_docs_build_from_a_checkout_as_git_has_it():
    """A git checkout has no configure script until autoreconf makes it:
    every doc that tells a reader to build runs `autoreconf -fi` first."""
    import glob
    bad = []
    for path in sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")) + [os.path.join(ROOT, "README.md")]):
        for n, line in enumerate(open(path, encoding="utf-8"), 1):
            if re.search(r"\./configure( [^`]*)? && make", line) and "autoreconf -fi && ./configure" not in line:
                bad.append("%s:%d: %s" % (os.path.relpath(path, ROOT), n, line.strip()))
    eq(bad, [], "a build without autoreconf")
