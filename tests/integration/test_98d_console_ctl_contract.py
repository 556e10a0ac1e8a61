"""test_98d_console_ctl_contract.py: the operator's console as plain HTTP
sees it through nginx (docs/api.md "Console sessions"), and the creditctl
subcommands test_97 leaves out (docs/creditctl.md): their output shapes
and exit codes on success, on a usage error (2) and on something not
found (1). test_93 holds the console's sessions in depth; this file
checks what a client of the contract alone would: the headers on every
console answer (errors too), the error shape, sign-in refusals, the
scopes, sign-out."""
import json
import os
import re
import tempfile

from core_contract import ERROR_TYPES, ctl, get, path
from lib import ENV, api, check, eq, new_account, uid, verify, wait_until
from test_93_console_session import CSP, COOKIE, base_path, call, origin, parse_cookie, session


def console_err(r, status, code=None, what=""):
    """creditd's error shape (docs/api.md "Errors") and the console's
    headers, which every console answer carries."""
    eq(r.status, status, "%s: %r" % (what, r))
    e = r.json["error"]
    eq(sorted(e), ["code", "message", "param", "type"], "%s: the error's members: %r" % (what, r.json))
    eq(e["type"], ERROR_TYPES[status], "%s: its type" % what)
    if code:
        eq(e["code"], code, "%s: its code" % what)
    headers_of_console(r, what)
    return e


def headers_of_console(r, what):
    eq(r.headers.get("content-security-policy"), CSP, "%s: the console's policy" % what)
    eq(r.headers.get("x-frame-options"), "DENY", "%s: no framing" % what)
    eq(r.headers.get("x-content-type-options"), "nosniff", "%s: nosniff" % what)
    eq(r.headers.get("referrer-policy"), "no-referrer", "%s: no referrer" % what)


# ---- the console ----

def test_sign_in_refusals_are_creditd_s_errors_with_the_console_s_headers():
    """A missing or non-string key: 400; a guard key, a wrong key: 401 and
    no cookie; another site's Origin: 403 (docs/api.md "Console
    sessions")."""
    for body, status, what in (({}, 400, "no key"), ({"key": 5}, 400, "a number"),
                               ({"key": ENV["CREDITD_GUARD_KEY"]}, 401, "a guard key"),
                               ({"key": "crd_" + "0" * 64}, 401, "a wrong key")):
        r = call("POST", "/console/session", body)
        console_err(r, status, what=what)
        eq(r.cookies, [], "%s: no cookie" % what)
    r = call("POST", "/console/session", {"key": ENV["CREDITD_ADMIN_KEY"]},
             headers={"Origin": "https://evil.example"})
    console_err(r, 403, what="a sign-in from another site")
    eq(r.cookies, [], "no cookie")


def test_a_sign_in_answers_204_with_one_cookie_as_documented():
    r = call("POST", "/console/session", {"key": ENV["CREDITD_ADMIN_KEY"]})
    eq((r.status, r.raw), (204, b""), "204, no body: %r" % r)
    headers_of_console(r, "sign-in")
    eq(len(r.cookies), 1, "one cookie")
    name, value, attrs = parse_cookie(r.cookies[0])
    eq(name, COOKIE, "its name")
    check(len(value) == 64 and all(c in "0123456789abcdef" for c in value), "64 hex: %r" % value)
    eq((attrs.get("path"), attrs.get("httponly"), attrs.get("samesite"), attrs.get("max-age")),
       (base_path() + "/console/", True, "Strict", "43200"), "Path, HttpOnly, SameSite=Strict, Max-Age")
    check("secure" not in attrs, "no Secure over plain http from loopback: %r" % attrs)
    g = call("GET", "/console/session", cookie=value)
    eq(g.status, 200, "the session: %r" % g)
    eq(sorted(g.json), ["csrf", "expires_at", "idle_expires_at", "key_prefix", "scopes"], "its members")
    eq(g.json["scopes"], ["admin"], "an admin key's")
    check(ENV["CREDITD_ADMIN_KEY"].startswith(g.json["key_prefix"]), "the key's prefix: %r" % g.json["key_prefix"])
    check(g.json["expires_at"] - g.json["idle_expires_at"] > 11 * 3600, "12 hours at most, 30 minutes idle: %r" % g.json)


def test_console_calls_need_a_session_and_a_read_key_writes_nothing():
    acct = new_account("c98con")
    console_err(call("GET", "/console/session"), 401, what="no cookie")
    console_err(call("GET", "/console/api/v1/accounts/" + acct), 401, what="the API without a session")
    value, csrf = session("read")
    r = call("GET", "/console/api/v1/accounts/" + acct, cookie=value)
    eq(r.status, 200, "a read key's session reads: %r" % r)
    headers_of_console(r, "a console read")
    eq(r.json["balance_micros"], get(acct)["balance_micros"], "the API's answer")
    before = get(acct)["balance_micros"]
    r = call("POST", "/console/api/v1/accounts/%s/grants" % acct, {"amount_micros": 5, "source": "promo"},
             headers={"X-CSRF-Token": csrf, "Origin": origin(), "Idempotency-Key": uid("k")}, cookie=value)
    console_err(r, 403, "forbidden", "a read key's write")
    eq(get(acct)["balance_micros"], before, "nothing granted")
    r = api("GET", "/v1/accounts/" + acct, auth=None, headers={"Cookie": "%s=%s" % (COOKIE, value)})
    eq((r.status, r.json["error"]["code"]), (401, "unauthorized"), "/v1 never reads the cookie: %r" % r)


def test_an_admin_session_writes_with_its_token_and_signs_out():
    acct = new_account("c98cadm")
    value, csrf = session("admin")
    before = get(acct)["balance_micros"]
    grant = {"amount_micros": 777, "source": "promo"}
    r = call("POST", "/console/api/v1/accounts/%s/grants" % acct, grant,
             headers={"Origin": origin(), "Idempotency-Key": uid("k")}, cookie=value)
    console_err(r, 403, "forbidden", "a write without the token")
    r = call("POST", "/console/api/v1/accounts/%s/grants" % acct, grant,
             headers={"X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site", "Idempotency-Key": uid("k")},
             cookie=value)
    console_err(r, 403, "forbidden", "a cross-site write")
    eq(get(acct)["balance_micros"], before, "nothing granted")
    r = call("POST", "/console/api/v1/accounts/%s/grants" % acct, grant,
             headers={"X-CSRF-Token": csrf, "Origin": origin(), "Sec-Fetch-Site": "same-origin",
                      "Idempotency-Key": uid("k")}, cookie=value)
    eq(r.status, 201, "granted: %r" % r)
    eq(get(acct)["balance_micros"], before + 777, "the grant")
    r = call("DELETE", "/console/session", cookie=value, headers={"X-CSRF-Token": csrf})
    eq(r.status, 204, "signed out: %r" % r)
    eq(parse_cookie(r.cookies[0])[2].get("max-age"), "0", "the cookie cleared")
    console_err(call("GET", "/console/api/v1/accounts/" + acct, cookie=value), 401, what="after sign-out")


# ---- creditctl ----

def test_ctl_price_set_prints_the_entry_and_refuses_bad_fields_with_exit_2():
    model = uid("ctlmodel")
    p = ctl("price", "set", model, "input=1000000", "output=2000000", "max_output_tokens=4096")
    eq(p.returncode, 0, "a new model priced: %s" % p.stderr)
    entry = json.loads(p.stdout)
    eq((entry["model"], entry["input_micros_per_mtok"], entry["output_micros_per_mtok"], entry["max_output_tokens"]),
       (model, 1000000, 2000000, 4096), "the entry as price list has it")
    eq((entry["cached_input_micros_per_mtok"], entry["cache_write_micros_per_mtok"]), (1000000, 1000000),
       "cached and cache-write input at its input price")
    def listed():
        return [m for m in api("GET", "/v1/models", auth="read").json["data"]
                if m["model"] == model and m.get("provider") is None]
    # docs/operations.md: every creditd picks a price up within its sweep interval
    wait_until(lambda: listed(), timeout=20, step=0.5)
    eq(listed(), [entry], "GET /v1/models shows it as printed")
    p = ctl("price", "set", model, "--output", "3000000")
    eq((p.returncode, json.loads(p.stdout)["output_micros_per_mtok"], json.loads(p.stdout)["input_micros_per_mtok"]),
       (0, 3000000, 1000000), "one field changed, the rest kept")
    for args, what in (([model, "no_such_field=1"], "an unknown field"), ([model, "input=-5"], "a negative price"),
                       ([uid("newmodel"), "input=1"], "a new model without output and max_output_tokens"),
                       ([model, "--provider", "no-such-provider", "input=1"], "an unknown provider")):
        p = ctl("price", "set", *args)
        eq(p.returncode, 2, "%s: exit 2: %s%s" % (what, p.stdout, p.stderr))
        check(p.stderr.strip(), "%s: the reason on stderr" % what)
    eq(json.loads(ctl("price", "set", model, "input=1000000").stdout)["output_micros_per_mtok"], 3000000,
       "nothing changed by the refusals (and the same price again adds no history)")
    p = ctl("price", "history", model)
    eq(p.returncode, 0, "history")
    eq(len([x for x in p.stdout.splitlines() if x.strip()]), 2, "two prices in its history: %r" % p.stdout)


def test_ctl_price_alias_needs_a_priced_model():
    model = uid("alias")
    eq(ctl("price", "set", model, "input=1", "output=1", "max_output_tokens=10").returncode, 0, "priced")
    eq(ctl("price", "alias", "provider-" + model, model).returncode, 0, "aliased")
    p = ctl("price", "alias", "provider-x-" + model, "no-such-" + model)
    check(p.returncode in (1, 2), "an unpriced model refused: %d %s" % (p.returncode, p.stderr))
    eq(ctl("price", "alias").returncode, 2, "usage: exit 2")


def test_ctl_plan_set_and_list():
    name = uid("plan98")
    p = ctl("plan", "set", name, "--credits", "5000000", "--rollover", "capped", "--rollover-cap", "1000000",
            "--member-cap", "200000")
    eq(p.returncode, 0, "plan set: %s" % p.stderr)
    plans = api("GET", "/v1/plans", auth="read").json["data"]
    mine = [x for x in plans if x["name"] == name]
    eq(len(mine), 1, "GET /v1/plans shows it")
    eq((mine[0]["credits_micros"], mine[0]["rollover"], mine[0]["rollover_cap_micros"], mine[0]["member_cap_micros"]),
       (5000000, "capped", 1000000, 200000), "as set")
    check(name in ctl("plan", "list").stdout, "plan list shows it")
    eq(ctl("plan", "set", name, "--credits", "5", "--rollover", "sometimes").returncode, 2, "a bad rollover: exit 2")
    eq(ctl("plan", "set", name).returncode, 2, "no --credits: exit 2")


def test_ctl_promo_create_and_list_one_json_object_a_line():
    code = "CTL98" + uid("")[-8:].upper()
    p = ctl("promo", "create", code, "250000", "--max", "3")
    eq(p.returncode, 0, "promo create: %s" % p.stderr)
    rows = [json.loads(x) for x in ctl("promo", "list").stdout.splitlines() if x.strip()]
    mine = [x for x in rows if x.get("code", "").upper() == code]
    eq(len(mine), 1, "listed once, one JSON object a line")
    eq(mine[0].get("amount_micros"), 250000, "its amount: %r" % mine[0])
    eq(ctl("promo", "create", code + "X", "-5").returncode, 2, "a negative amount: exit 2")
    eq(ctl("promo", "create").returncode, 2, "usage: exit 2")


def test_ctl_hold_resolve_not_found_is_1_and_usage_is_2():
    p = ctl("hold", "resolve", "hold_" + "0" * 32, "release")
    eq(p.returncode, 1, "no such hold: exit 1: %s%s" % (p.stdout, p.stderr))
    eq(ctl("hold", "resolve", "hold_" + "0" * 32, "maybe").returncode, 2, "a bad action: exit 2")
    eq(ctl("hold", "resolve").returncode, 2, "no hold: exit 2")
    acct = new_account("c98hr")
    h = api("POST", "/v1/guard/authorize", {"account": acct, "model": "gpt-4o", "input_tokens": 10,
                                              "max_output_tokens": 10, "request_id": uid("r")}, auth="guard")
    eq(h.status, 200, "a guard hold: %r" % h)
    p = ctl("hold", "resolve", h.json["hold_id"], "charge")
    eq(p.returncode, 1, "a hold that is not unresolved: exit 1 (status on stderr): %s%s" % (p.stdout, p.stderr))
    eq(api("GET", "/v1/holds/" + h.json["hold_id"], auth="read").json["status"], "pending", "nothing changed")


def test_ctl_hold_resolve_from_usage_dry_run_json():
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
        f.write("date,model,input_tokens,output_tokens\n")
    try:
        p = ctl("hold", "resolve", "--from-usage", f.name, "--format", "csv", "--dry-run", "--json")
        eq(p.returncode, 0, "a dry run: %s%s" % (p.stdout, p.stderr))
        out = json.loads(p.stdout)
        eq(out["dry_run"], True, "dry_run said")
        check(isinstance(out["holds"], list), "holds a list: %r" % out)
        eq(ctl("hold", "resolve", "--from-usage", "/nonexistent/usage.json").returncode, 2, "a missing file: exit 2")
    finally:
        os.unlink(f.name)


def test_ctl_account_create_kinds_and_key_create_rules():
    acct = uid("ctlws")
    eq(ctl("account", "create", acct, "--kind", "workspace").returncode, 0, "a workspace")
    eq(get(acct)["kind"], "workspace", "its kind")
    eq(ctl("account", "create", uid("ctlk"), "--kind", "planet").returncode, 2, "a bad kind: exit 2")
    eq(ctl("key", "create", "--scope", "guard", "--models", "").returncode, 2, "an empty model list: exit 2")
    many = ",".join("m%d" % i for i in range(17))
    eq(ctl("key", "create", "--scope", "guard", "--models", many).returncode, 2, "17 models: exit 2")
    eq(ctl("key", "create", "--scope", "guard", "--account", uid("none")).returncode, 1, "an unknown account: exit 1")
    p = ctl("key", "create", "--scope", "guard", "--models", "gpt-4o,gpt-4o-mini", "--name", uid("k98"))
    eq(p.returncode, 0, "a key for two models: %s" % p.stderr)
    check(p.stdout.strip().splitlines()[-1].startswith("crd_"), "the key alone on the last line: %r" % p.stdout)


def test_ctl_export_csv_and_events_retry_unknown():
    acct = new_account("c98exp")
    p = ctl("export", acct, "--format", "csv")
    eq(p.returncode, 0, "export csv: %s" % p.stderr)
    lines = p.stdout.strip().splitlines()
    check(len(lines) >= 2 and "," in lines[0], "a header and the signup bonus: %r" % lines)
    eq(ctl("export", acct, "--format", "xml").returncode, 2, "a bad format: exit 2")
    eq(ctl("export", uid("none")).returncode, 1, "an unknown account: exit 1")
    eq(ctl("events", "retry").returncode, 2, "retry without an id: exit 2")
    p = ctl("events", "retry", "999999999")
    eq(p.returncode, 1, "retry of no such event: exit 1: %s%s" % (p.stdout, p.stderr))
    eq(ctl("events", "list", "--state", "sideways").returncode, 2, "a bad state: exit 2")
    p = ctl("collect", "--account", uid("none"), "--dry-run")
    eq(p.returncode, 1, "collect for an unknown account: exit 1: %s%s" % (p.stdout, p.stderr))


def test_ctl_reconcile_bad_input_is_2():
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        f.write("{not json")
    try:
        eq(ctl("reconcile", f.name, "--format", "openai", "--no-store").returncode, 2, "a file not JSON: exit 2")
        eq(ctl("reconcile", f.name, "--format", "fortran").returncode, 2, "a bad format: exit 2")
    finally:
        os.unlink(f.name)
    verify()


def test_ctl_key_list_shows_gateway_keys_and_revoke_stops_one():
    """docs/creditctl.md: key list shows gateway keys too (scope gateway,
    their account; `gwk_N` is ID N), never a secret; key revoke of it is
    refused by the gateway within a second (401 in the provider's shape)."""
    from test_80_gateway import call, ensure_prices
    ensure_prices()
    acct = new_account("c98gwk")
    r = api("POST", path(acct, "/gateway_keys"), {"name": uid("laptop")}, auth="app")
    eq(r.status, 201, "minted: %r" % r)
    kid, secret = r.json["id"], r.json["key"]
    check(kid.startswith("gwk_"), "its id: %r" % kid)
    n = kid[len("gwk_"):]
    listing = ctl("key", "list")
    eq(listing.returncode, 0, "key list")
    check(secret not in listing.stdout and secret[4:] not in listing.stdout, "never the secret")
    line = [x for x in listing.stdout.splitlines() if x.split() and x.split()[0] == n]
    eq(len(line), 1, "the gateway key listed under ID %s: %s" % (n, listing.stdout[-600:]))
    check("gateway" in line[0] and acct in line[0], "its scope and account: %r" % line[0])
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}
    eq(call("/openai/v1/chat/completions", body, auth=secret).status, 200, "the key calls")
    eq(ctl("key", "revoke", n).returncode, 0, "revoked by creditctl")

    def refused():
        return call("/openai/v1/chat/completions", body, auth=secret).status == 401
    wait_until(refused, timeout=3, step=0.2)
    r = call("/openai/v1/chat/completions", body, auth=secret)
    eq((r.status, r.json["error"]["type"], r.json["error"]["code"]), (401, "authentication_error", "unauthorized"),
       "refused in OpenAI's shape: %r" % r.body[:300])
    check(all(k["id"] != kid for k in api("GET", path(acct, "/gateway_keys"), auth="app").json["data"]),
          "gone from the account's live keys")
    eq(ctl("key", "revoke", "999999999").returncode, 1, "no such key: exit 1")


def test_ctl_grant_with_expiry_priority_and_description():
    acct = new_account("c98grant")
    before = get(acct)["balance_micros"]
    p = ctl("grant", acct, "300000", "--source", "adjustment", "--expires", "2099-01-01T00:00:00Z", "--priority", "7",
            "--description", "goodwill")
    eq(p.returncode, 0, "granted: %s" % p.stderr)
    a = get(acct)
    eq(a["balance_micros"], before + 300000, "credited")
    g = [x for x in a["grants"] if x["remaining_micros"] == 300000]
    eq(len(g), 1, "the grant listed: %r" % a["grants"])
    eq((g[0]["source"], g[0]["priority"], g[0]["expires_at"]), ("adjustment", 7, "2099-01-01T00:00:00Z"), "as given")
    eq(ctl("grant", acct, "5", "--source", "topup").returncode, 2, "source topup is not creditctl's: exit 2")
    eq(ctl("grant", acct, "5", "--source", "promo", "--expires", "yesterday").returncode, 2, "a bad time: exit 2")


def _csv(text):
    f = tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False)
    f.write(text)
    f.close()
    return f.name


def _listed(model):
    return [m for m in json.loads(ctl("price", "list").stdout)["data"] if m["model"] == model and m["provider"] is None]


def test_ctl_price_import_dry_run_writes_nothing_and_a_rise_needs_force():
    """docs/creditctl.md: import refuses a rise above --max-increase-pct
    (20) unless --force; --dry-run changes nothing."""
    new, risen = uid("dry"), uid("rise")
    eq(ctl("price", "set", risen, "input=1000000", "output=1000000", "max_output_tokens=100").returncode, 0, "priced")
    margin = json.loads(ctl("price", "list").stdout)["margin_bps"]
    f = _csv("margin,%d\nmodel,%s,1000000,500000,2000000,100\nmodel,%s,1500000,750000,1000000,100\n" % (margin, new, risen))
    try:
        p = ctl("price", "import", f, "--dry-run", "--force")
        eq(p.returncode, 0, "a dry run: %s%s" % (p.stdout, p.stderr))
        eq(_listed(new), [], "a dry run adds nothing")
        eq(_listed(risen)[0]["input_micros_per_mtok"], 1000000, "nor changes a price")
        p = ctl("price", "import", f)
        check(p.returncode != 0, "a 50 %% rise refused without --force: %s" % p.stdout)
        check(risen in p.stdout + p.stderr, "the model named: %s%s" % (p.stdout, p.stderr))
        eq((_listed(new), _listed(risen)[0]["input_micros_per_mtok"]), ([], 1000000), "all or nothing")
        eq(ctl("price", "import", f, "--max-increase-pct", "60").returncode, 0, "within a raised bound")
        eq(_listed(risen)[0]["input_micros_per_mtok"], 1500000, "imported")
        eq(_listed(new)[0]["output_micros_per_mtok"], 2000000, "the new model too")
        check(ctl("price", "import", "/nonexistent/prices.csv").returncode in (1, 2), "a missing file refused")
    finally:
        os.unlink(f)


def test_ctl_verify_progress_lines():
    """docs/creditctl.md: verify --progress writes a line on stderr after
    each check: `creditctl: verify: 4/30 journal chain: 0 found, 41.2 s
    (43.0 s in all)`; exit 0 on a sound ledger."""
    p = ctl("verify", "--progress")
    eq(p.returncode, 0, "verify: %s%s" % (p.stdout, p.stderr))
    lines = [x for x in p.stderr.splitlines() if x.startswith("creditctl: verify:")]
    check(lines, "progress lines: %r" % p.stderr[-500:])
    pat = re.compile(r"^creditctl: verify: (\d+)/(\d+) .+: \d+ found, [0-9.]+ s \([0-9.]+ s in all\)$")
    for x in lines:
        check(pat.match(x), "the documented shape: %r" % x)
    last = pat.match(lines[-1])
    eq(last.group(1), last.group(2), "the last line is the last check")
