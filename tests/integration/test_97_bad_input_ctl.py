"""test_97_bad_input_ctl.py: creditctl given bad input, from outside, as
its man page (docs/creditctl.8) and docs/creditctl.md promise it: every
command and subcommand they list, with no arguments, a required one
missing, an unknown option, an option without its value, a value of the
wrong kind or out of range, a name too long or not UTF-8, an unknown
account, key, hold, plan or model, a malformed date or time, a CSV file
with a bad line, a config or environment file refused, the database out
of reach.

Each refusal is checked the same way: the exit status EXIT STATUS gives
for that kind of failure (2 a usage error or a refused config, 1 a
failure such as something not found, 3 and 4 for migrate --check), a
message on stderr naming what is wrong (the option, the value, the line
of a file), nothing on stdout a script could read as success, and
nothing changed: every table's row count and the money tables' checksums
are the same after each table of cases, the probe accounts' balances and
journals too, and `creditctl verify` exits 0 at the end."""
import json
import os
import shutil
import subprocess
import tempfile

from core_contract import state
from lib import ENV, Fail, api, check, eq, new_account, sql, uid, verify

I64 = str(2 ** 63)            # one past int64's largest
U64 = str(2 ** 64)
BAD_MICROS = ("abc", "1.5", "-1", I64, U64, "1e30", "")
NOT_UTF8 = b"bad\xff\xfename"
LONG = "x" * 5000
# Tables whose rows carry money or what creditctl writes: a refusal leaves
# their checksums as they were (docs/creditctl.md: "nothing changed").
CHECKSUMMED = ("accounts", "grants", "journal", "models", "provider_prices", "price_history", "price_aliases",
               "plans", "promo_codes", "api_keys", "reconcile_drift")
# holds: every column but expires_at, which a background run another file
# left running on the stack has renewed every poll round (docs/gateway.md,
# "Background responses"), whatever its account.
SETUP = {}


# ---- running creditctl ----

def run(args, env=None, config=True, stdin=None):
    """creditctl with args (str or bytes), the stack's config unless
    config is False or a path; env: variables set (None: unset)."""
    e = dict(os.environ)
    for k, v in (env or {}).items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = v
    argv = [ENV["CREDITCTL"]]
    if config:
        argv += ["-c", ENV["CREDITD_CONFIG"] if config is True else config]
    return subprocess.run(argv + list(args), capture_output=True, timeout=60, env=e, stdin=subprocess.DEVNULL)


def judge(problems, args, want, names, what, env=None, config=True, stdout_ok=None):
    """Runs one bad invocation; appends to problems what is wrong with
    its answer. want: the exit status (or a tuple of those the man page
    allows); names: what the message must name (case-insensitive)."""
    p = run(args, env=env, config=config)
    err = p.stderr.decode("utf-8", "replace")
    out = p.stdout.decode("utf-8", "replace")
    shown = " ".join(a.decode("utf-8", "replace") if isinstance(a, bytes) else a for a in args)[:120]
    wants = want if isinstance(want, tuple) else (want,)
    bad = []
    if p.returncode not in wants:
        bad.append("exit %d, want %s" % (p.returncode, "/".join(map(str, wants))))
    if not err.strip():
        bad.append("nothing on stderr")
    for n in names:
        if n.lower() not in err.lower():
            bad.append("stderr does not name %r" % n)
    for word in ("internal error", "segmentation", "assert", "abort"):
        if word in err.lower():
            bad.append("stderr says %r" % word)
    if out.strip() and not (stdout_ok and stdout_ok(out)):
        bad.append("stdout not empty: %r" % out[:200])
    if bad:
        problems.append("%s [creditctl %s]: %s\n    stderr: %s" % (what, shown, "; ".join(bad), err.strip()[:300]))


def table(cases, **kw):
    """Runs every case (args, want, names, what) and fails once, listing
    every case that was answered wrong; checks that nothing changed."""
    busy = busy_accounts()
    before = snapshot(busy)
    problems = []
    for args, want, names, what in cases:
        judge(problems, args, want, names, what, **kw)
    wrong = len(problems)
    after = snapshot(busy)
    for k in sorted(set(before) | set(after)):
        if before.get(k) != after.get(k):
            problems.append("changed by a refusal: %s %r -> %r" % (k, before.get(k), after.get(k)))
    if problems:
        raise Fail("%d of %d answered wrong, %d changes:\n  %s" % (wrong, len(cases), len(problems) - wrong,
                                                                   "\n  ".join(problems)))


def busy_accounts():
    """Accounts with a hold pending when a table of cases starts: a
    background run or a batch another file left on the stack settles
    there on its own (its journal row, its usage, its hold and account
    written), which no refusal did. Their rows are left out of the
    snapshot; this file's own accounts never hold anything."""
    rows = sql("SELECT DISTINCT a.id, a.ext_id FROM holds h JOIN accounts a ON a.id = h.account_id "
               "WHERE h.state = 'pending'")
    check(SETUP.get("acct") not in [ext for _id, ext in rows], "this file's account holds nothing: %r" % rows)
    return [i for i, _ext in rows]


def snapshot(busy):
    """Every table's rows and the money tables' digests, the rows of the
    busy accounts left out (by account_id; accounts by id)."""
    cols = {}
    for t, c in sql("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'creditd' "
                    "ORDER BY table_name, ordinal_position"):
        cols.setdefault(t, []).append(c)
    tables = [r[0] for r in sql("SELECT table_name FROM information_schema.tables WHERE table_schema = 'creditd' "
                                "AND table_type = 'BASE TABLE' ORDER BY table_name")]
    out = ",".join(map(str, busy)) or "0"

    def where(t):
        key = "id" if t == "accounts" else "account_id" if "account_id" in cols[t] else None
        return " WHERE `%s` IS NULL OR `%s` NOT IN (%s)" % (key, key, out) if key else ""
    counts = sql(" UNION ALL ".join("SELECT '%s', COUNT(*) FROM `%s`%s" % (t, t, where(t)) for t in tables))
    snap = {"rows " + t: n for t, n in counts}
    digests = []
    for t in CHECKSUMMED + ("holds",):
        if t in tables:
            fields = [c for c in cols[t] if not (t == "holds" and c == "expires_at")]
            row = "CONCAT_WS('|', %s)" % ", ".join("COALESCE(HEX(`%s`), 'N')" % c for c in fields)
            digests.append("SELECT '%s', COUNT(*), COALESCE(SUM(CRC32(%s)), 0) FROM `%s`%s" % (t, row, t, where(t)))
    for t, n, crc in sql(" UNION ALL ".join(digests)):     # one client for them all
        snap["digest " + t] = (n, crc)
    return snap


def temp_dir():
    """This file's one directory for its files (made at its first use;
    setdefault would make one at every call, its default evaluated)."""
    if "dir" not in SETUP:
        SETUP["dir"] = tempfile.mkdtemp(prefix="badctl-")
    return SETUP["dir"]


def temp(content, mode=0o600, suffix=".csv"):
    path = os.path.join(temp_dir(), uid("f") + suffix)
    with open(path, "wb") as f:
        f.write(content if isinstance(content, bytes) else content.encode())
    os.chmod(path, mode)
    return path


def ctl_ok(*args):
    p = run(args)
    if p.returncode != 0:
        raise Fail("creditctl %s: exit %d: %s" % (" ".join(args), p.returncode, p.stderr.decode()))
    return p.stdout.decode()


# ---- the probe's ledger ----

def test_setup_a_priced_model_an_account_a_plan_and_a_promo_code():
    SETUP["acct"] = new_account("badctl")
    ctl_ok("grant", SETUP["acct"], "1000000", "--source", "promo")
    SETUP["model"] = uid("badctl-model")
    ctl_ok("price", "set", SETUP["model"], "input=1000000", "output=2000000", "max_output_tokens=1000")
    SETUP["plan"] = uid("badctlplan")
    ctl_ok("plan", "set", SETUP["plan"], "--credits", "1000000", "--stripe-price", "price_badctl_a",
           "--stripe-price", "price_badctl_b")   # the one option given more than once
    SETUP["promo"] = "BADCTL" + uid("")[-8:].upper()
    ctl_ok("promo", "create", SETUP["promo"], "100000", "--max", "2")
    SETUP["state"] = state(SETUP["acct"])


# ---- the command line itself ----

def test_no_command_an_unknown_command_and_unknown_global_options():
    table([
        ([], 2, ["usage"], "no command"),
        (["nosuch"], 2, ["nosuch"], "an unknown command"),
        (["--bogus", "verify"], 2, ["--bogus"], "an unknown global option"),
        ([NOT_UTF8], 2, ["usage"], "a command not UTF-8"),
    ])
    table([
        (["-c"], 2, ["-c"], "-c without its file"),
        (["--env-file"], 2, ["--env-file"], "--env-file without its file"),
    ], config=False)


# ---- per command: (args, exit status, what stderr names, what) ----

def test_migrate():
    table([
        (["migrate", "--bogus"], 2, ["--bogus"], "an unknown option"),
        (["migrate", "--sql-dir"], 2, ["--sql-dir"], "--sql-dir without its value"),
        (["migrate", "--user"], 2, ["--user"], "--user without its value"),
        (["migrate", "--password-file"], 2, ["--password-file"], "--password-file without its value"),
        (["migrate", "--check", "--bogus"], 2, ["--bogus"], "--check with an unknown option"),
        (["migrate", "extra"], 2, ["extra"], "an argument migrate does not take"),
        (["migrate", "--sql-dir", "/nonexistent/sql"], (1, 2), ["/nonexistent/sql"], "a missing sql dir"),
        (["migrate", "--password-file", "/nonexistent/pw"], (1, 2), ["/nonexistent/pw"], "a missing password file"),
        (["migrate", "--password-file", temp("pw\n", 0o644, ".pw")], (1, 2), [".pw"],
         "a password file others may read (refused, creditctl.8)"),
    ])


def test_key():
    a = SETUP["acct"]
    table([
        (["key"], 2, ["usage"], "key alone"),
        (["key", "nosuch"], 2, ["nosuch"], "an unknown key subcommand"),
        (["key", "create"], 2, ["--scope"], "key create without --scope"),
        (["key", "create", "--scope"], 2, ["--scope"], "--scope without its value"),
        (["key", "create", "--scope", "nonsense"], 2, ["nonsense"], "an unknown scope"),
        (["key", "create", "--scope", "gateway"], 2, ["gateway"], "the gateway scope"),
        (["key", "create", "--scope", ""], 2, ["scope"], "an empty scope"),
        (["key", "create", "--scope", "read", "--bogus"], 2, ["--bogus"], "an unknown option"),
        (["key", "create", "--scope", "read", "--acount", a], 2, ["--acount"], "a mistyped --account"),
        (["key", "create", "--scope", "read", "--account"], 2, ["--account"], "--account without its value"),
        (["key", "create", "--scope", "read", "--name"], 2, ["--name"], "--name without its value"),
        (["key", "create", "--scope", "read", "--models"], 2, ["--models"], "--models without its value"),
        (["key", "create", "--scope", "admin", "--account", a], 2, ["admin"], "an admin key bound"),
        (["key", "create", "--scope", "read", "--account", uid("nosuch")], 1, ["nosuch"], "an unknown account"),
        (["key", "create", "--scope", "read", "--models", "a b"], 2, ["--models"], "a model with a space"),
        (["key", "create", "--scope", "read", "--models", "m" * 65], 2, ["--models"], "a model of 65 bytes"),
        (["key", "create", "--scope", "read", "--models", ",".join("m%d" % i for i in range(17))], 2,
         ["--models"], "17 models"),
        (["key", "create", "--scope", "read", "--models", "a,,b"], 2, ["--models"], "an empty model in the list"),
        (["key", "create", "--scope", "read", "--name", LONG], 2, ["--name"], "a name of 5000 bytes"),
        (["key", "create", "--scope", "read", "--name", NOT_UTF8], 2, ["--name"], "a name not UTF-8"),
        (["key", "list", "extra"], 2, ["extra"], "key list with an argument"),
        (["key", "list", "--bogus"], 2, ["--bogus"], "key list with an unknown option"),
        (["key", "revoke"], 2, ["usage"], "key revoke without an id"),
        (["key", "revoke", "abc"], 2, ["abc"], "key revoke of letters"),
        (["key", "revoke", "-1"], 2, ["-1"], "key revoke of -1"),
        (["key", "revoke", "1.5"], 2, ["1.5"], "key revoke of 1.5"),
        (["key", "revoke", U64], 2, [U64], "key revoke of 2**64"),
        (["key", "revoke", "999999999"], 1, ["999999999"], "key revoke of no such key"),
        (["key", "revoke", "1", "2"], 2, ["2"], "key revoke of two ids"),
    ])


def test_account():
    table([
        (["account"], 2, ["usage"], "account alone"),
        (["account", "nosuch"], 2, ["nosuch"], "an unknown account subcommand"),
        (["account", "create"], 2, ["usage"], "account create without an id"),
        (["account", "create", uid("bad"), "--kind"], 2, ["--kind"], "--kind without its value"),
        (["account", "create", uid("bad"), "--kind", "planet"], 2, ["planet"], "an unknown kind"),
        (["account", "create", uid("bad"), "--bogus"], 2, ["--bogus"], "an unknown option"),
        (["account", "create", LONG], 2, ["id"], "an id of 5000 bytes"),
        (["account", "create", NOT_UTF8], 2, ["id"], "an id not UTF-8"),
        (["account", "create", ""], 2, ["id"], "an empty id"),
        (["account", "show"], 2, ["usage"], "account show without an id"),
        (["account", "show", uid("nosuch")], 1, ["nosuch"], "account show of no such account"),
        (["account", "show", SETUP["acct"], "--bogus"], 2, ["--bogus"], "account show with an unknown option"),
    ])


def test_grant():
    a = SETUP["acct"]
    cases = [
        (["grant"], 2, ["usage"], "grant alone"),
        (["grant", a], 2, ["usage"], "grant without an amount"),
        (["grant", a, "5"], 2, ["--source"], "grant without --source"),
        (["grant", a, "5", "--source"], 2, ["--source"], "--source without its value"),
        (["grant", a, "5", "--source", "topup"], 2, ["topup"], "a source creditctl does not grant"),
        (["grant", a, "5", "--source", "promo", "--bogus"], 2, ["--bogus"], "an unknown option"),
        (["grant", a, "5", "--source", "promo", "--expires"], 2, ["--expires"], "--expires without its value"),
        (["grant", a, "5", "--source", "promo", "--expires", "yesterday"], 2, ["yesterday"], "a time of words"),
        (["grant", a, "5", "--source", "promo", "--expires", "2027-13-45T00:00:00Z"], 2, ["2027-13-45"],
         "a month 13"),
        (["grant", a, "5", "--source", "promo", "--priority", "101"], 2, ["101"], "a priority past 100"),
        (["grant", a, "5", "--source", "promo", "--priority", "-1"], 2, ["-1"], "a negative priority"),
        (["grant", a, "5", "--source", "promo", "--priority", "abc"], 2, ["abc"], "a priority of letters"),
        (["grant", a, "5", "--source", "promo", "--priority"], 2, ["--priority"], "--priority without its value"),
        (["grant", a, "5", "--source", "promo", "--description"], 2, ["--description"],
         "--description without its value"),
        (["grant", a, "5", "--source", "promo", "--description", LONG], 2, ["description"],
         "a description of 5000 bytes"),
        (["grant", a, "5", "--source", "promo", "--description", NOT_UTF8], 2, ["description"],
         "a description not UTF-8"),
        (["grant", a, "5", "--source", "promo", "--description", "\u00e9" * 501], 2, ["description", "500 characters"],
         "a description of 501 characters"),
        (["grant", uid("nosuch"), "5", "--source", "promo"], 1, ["nosuch"], "no such account"),
        (["grant", a, "5", "6", "--source", "promo"], 2, ["6"], "two amounts"),
        (["grant", a, "0", "--source", "promo"], 2, ["0"], "an amount of 0"),
    ]
    cases += [(["grant", a, v, "--source", "promo"], 2, [v] if v else ["amount"], "an amount %r" % v)
              for v in BAD_MICROS]
    table(cases)


def test_a_description_of_500_characters_is_granted_whole():
    """The API's limit (openapi's maxLength, the VARCHAR(500) column):
    characters, not bytes."""
    a = new_account("ctlchars")
    out = json.loads(ctl_ok("grant", a, "5", "--source", "promo", "--description", "\u00e9" * 500))
    eq(out["description"], "\u00e9" * 500, "500 two-byte characters kept whole")


def test_verify_export_events_collect_sweep():
    a = SETUP["acct"]
    table([
        (["verify", "--bogus"], 2, ["--bogus"], "verify with an unknown option"),
        (["verify", "extra"], 2, ["extra"], "verify with an argument"),
        (["export"], 2, ["usage"], "export without an id"),
        (["export", uid("nosuch")], 1, ["nosuch"], "export of no such account"),
        (["export", a, "--format"], 2, ["--format"], "--format without its value"),
        (["export", a, "--format", "xml"], 2, ["xml"], "an unknown format"),
        (["export", a, "--bogus"], 2, ["--bogus"], "an unknown option"),
        (["events"], 2, ["usage"], "events alone"),
        (["events", "nosuch"], 2, ["nosuch"], "an unknown events subcommand"),
        (["events", "list", "--state", "sideways"], 2, ["sideways"], "an unknown state"),
        (["events", "list", "--state"], 2, ["--state"], "--state without its value"),
        (["events", "list", "--after", "abc"], 2, ["abc"], "--after of letters"),
        (["events", "list", "--after", "-1"], 2, ["-1"], "--after of -1"),
        (["events", "list", "--limit", "abc"], 2, ["abc"], "--limit of letters"),
        (["events", "list", "--limit", "0"], 2, ["0"], "--limit of 0"),
        (["events", "list", "--limit", "-1"], 2, ["-1"], "--limit of -1"),
        (["events", "list", "--limit", U64], 2, [U64], "--limit of 2**64"),
        (["events", "list", "--limit"], 2, ["--limit"], "--limit without its value"),
        (["events", "list", "--bogus"], 2, ["--bogus"], "an unknown option"),
        (["events", "retry"], 2, ["usage"], "events retry without an id"),
        (["events", "retry", "abc"], 2, ["abc"], "events retry of letters"),
        (["events", "retry", "-1"], 2, ["-1"], "events retry of -1"),
        (["events", "retry", "999999999"], 1, ["999999999"], "events retry of no such event"),
        (["collect", "--bogus"], 2, ["--bogus"], "collect with an unknown option"),
        (["collect", "--account"], 2, ["--account"], "--account without its value"),
        (["collect", "--account", uid("nosuch"), "--dry-run"], 1, ["nosuch"], "collect for no such account"),
        (["collect", "extra"], 2, ["extra"], "collect with an argument"),
        (["sweep", "--bogus"], 2, ["--bogus"], "sweep with an unknown option"),
        (["sweep", "extra"], 2, ["extra"], "sweep with an argument"),
    ])


def test_price_set_history_alias_list():
    m = SETUP["model"]
    cases = [
        (["price"], 2, ["usage"], "price alone"),
        (["price", "nosuch"], 2, ["nosuch"], "an unknown price subcommand"),
        (["price", "list", "--bogus"], 2, ["--bogus"], "price list with an unknown option"),
        (["price", "list", "extra"], 2, ["extra"], "price list with an argument"),
        (["price", "set"], 2, ["usage"], "price set without a model"),
        (["price", "set", m], 2, ["field"], "price set without a field"),
        (["price", "set", m, "no_such_field=1"], 2, ["no_such_field"], "an unknown field"),
        (["price", "set", m, "input"], 2, ["input"], "a field without =value"),
        (["price", "set", m, "--input"], 2, ["--input"], "--input without its value"),
        (["price", "set", m, "--bogus", "1"], 2, ["--bogus"], "an unknown option"),
        (["price", "set", m, "reasoning=maybe"], 2, ["reasoning"], "reasoning neither true nor false"),
        (["price", "set", m, "--provider"], 2, ["--provider"], "--provider without its value"),
        (["price", "set", m, "--provider", "no-such-provider", "input=1"], 2, ["no-such-provider"],
         "an unknown provider"),
        (["price", "set", uid("newmodel"), "input=1"], 2, ["output"], "a new model without output"),
        (["price", "set", uid("unpriced"), "--provider", "openai", "input=1"], 2, ["general"],
         "a provider's row of a model with no general price"),
        (["price", "set", "m" * 65, "input=1", "output=1", "max_output_tokens=1"], 2, ["name"],
         "a model name of 65 bytes"),
        (["price", "set", NOT_UTF8, "input=1", "output=1", "max_output_tokens=1"], 2, ["name"],
         "a model name not UTF-8"),
        (["price", "set", "a b", "input=1", "output=1", "max_output_tokens=1"], 2, ["name"],
         "a model name with a space"),
        (["price", "history"], 2, ["usage"], "price history without a model"),
        (["price", "history", uid("nosuch")], 1, ["nosuch"], "price history of a model never priced"),
        (["price", "history", m, "extra"], 2, ["extra"], "price history with two models"),
        (["price", "alias"], 2, ["usage"], "price alias alone"),
        (["price", "alias", "provider-name"], 2, ["usage"], "price alias without a model"),
        (["price", "alias", uid("pn"), uid("nosuch")], (1, 2), ["nosuch"], "an alias of an unpriced model"),
        (["price", "alias", "n" * 5000, m], 2, ["name"], "an alias name of 5000 bytes"),
    ]
    for field in ("input", "output", "max_output_tokens"):
        cases += [(["price", "set", m, "%s=%s" % (field, v)], 2, [field], "%s=%r" % (field, v))
                  for v in BAD_MICROS]
    table(cases)


CSV_GOOD = "model,%s,1000000,500000,2000000,100\n"


def test_price_import_bad_files():
    good = CSV_GOOD % uid("imp")   # line 1: a model that must not be imported

    def line2(text, what, names=(":2:",)):
        return (["price", "import", temp(good + text)], (1, 2), list(names), what)
    n = uid("imp2")
    table([
        (["price", "import"], 2, ["usage"], "price import without a file"),
        (["price", "import", "/nonexistent/prices.csv"], (1, 2), ["/nonexistent/prices.csv"], "a missing file"),
        (["price", "import", temp(good), "--bogus"], 2, ["--bogus"], "an unknown option"),
        (["price", "import", temp(good), "--max-increase-pct"], 2, ["--max-increase-pct"],
         "--max-increase-pct without its value"),
        (["price", "import", temp(good), "--max-increase-pct", "abc"], 2, ["abc"], "--max-increase-pct of letters"),
        (["price", "import", temp(good), "--max-increase-pct", "-1"], 2, ["-1"], "--max-increase-pct of -1"),
        (["price", "import", temp(good), "--max-increase-pct", U64], 2, [U64], "--max-increase-pct of 2**64"),
        line2("model,%s,1000,500,2000\n" % n, "a model line of 5 columns"),
        line2("model,%s,1000,500,2000,100,100,100\n" % n, "a model line of 8 columns"),
        line2("model,%s,-1000,500,2000,100\n" % n, "a negative price", (":2:", "field 3 (input)")),
        line2("model,%s,%s,500,2000,100\n" % (n, I64), "a price past int64", (":2:", "field 3 (input)")),
        line2("model,%s,1.5,500,2000,100\n" % n, "a price of 1.5", (":2:", "field 3 (input)")),
        line2("model,%s,1e30,500,2000,100\n" % n, "a price of 1e30", (":2:", "field 3 (input)")),
        line2("model,%s,abc,500,2000,100\n" % n, "a price of letters", (":2:", "field 3 (input)")),
        line2("model,%s,1000,500,2000,0\n" % n, "max_output_tokens 0", (":2:", "max_output_tokens")),
        line2("colour,blue,1\n", "an unknown kind of line", (":2:", "colour")),
        line2("action,%s\n" % n, "an action without its price"),
        line2("action,%s,-5\n" % n, "an action of a negative price", (":2:", "price_micros")),
        line2("margin,abc\n", "a margin of letters", (":2:", "bps")),
        line2("margin,-1\n", "a negative margin", (":2:", "bps")),
        (["price", "import", temp(good.encode() + b"model,bad\xffname,1000,500,2000,100\n")], (1, 2),
         [":2:", "name"], "a model name not UTF-8"),
        (["price", "import", temp(good + "model,%s,1000,500,2000,100\n" % ("m" * 65))], (1, 2),
         [":2:", "name"], "a model name of 65 bytes"),
        (["price", "import", temp("[{\"model\": \"%s\", \"input_micros_per_mtok\": -1}]" % n, suffix=".json")],
         (1, 2), [n], "a JSON list with a negative price"),
        (["price", "import", temp("[{\"model\": ", suffix=".json")], (1, 2), ["json"], "a JSON list cut short"),
    ])


def test_reconcile():
    csv_head = "date,model,input_tokens,cached_input_tokens,output_tokens\n"
    ok = csv_head + "2026-11-01,gpt-4o,10,0,5\n"

    def line2(text, what, names=(":2:",)):
        return (["reconcile", temp(csv_head + text), "--format", "csv"], 2, list(names), what)
    f = temp(ok)
    table([
        (["reconcile"], 2, ["usage"], "reconcile without a file"),
        (["reconcile", "/nonexistent/usage.csv"], 2, ["/nonexistent/usage.csv"], "a missing file"),
        (["reconcile", f, "--format"], 2, ["--format"], "--format without its value"),
        (["reconcile", f, "--format", "fortran"], 2, ["fortran"], "an unknown format"),
        (["reconcile", f, "--bogus"], 2, ["--bogus"], "an unknown option"),
        (["reconcile", f, "--from", "2026-13-01"], 2, ["2026-13-01"], "--from a month 13"),
        (["reconcile", f, "--from", "yesterday"], 2, ["yesterday"], "--from in words"),
        (["reconcile", f, "--to", "2026-11-31"], 2, ["2026-11-31"], "--to the 31st of November"),
        (["reconcile", f, "--to"], 2, ["--to"], "--to without its value"),
        (["reconcile", f, "--tolerance-pct", "abc"], 2, ["abc"], "--tolerance-pct of letters"),
        (["reconcile", f, "--tolerance-pct", "-1"], 2, ["-1"], "--tolerance-pct of -1"),
        (["reconcile", f, "--provider", "Bad Name"], 2, ["Bad Name"], "a provider name with a space"),
        (["reconcile", f, "--provider", "p" * 65], 2, ["--provider"], "a provider name of 65 bytes"),
        (["reconcile", f, "--provider"], 2, ["--provider"], "--provider without its value"),
        line2("2026-11-01,gpt-4o,10,0\n", "a line of 4 columns"),
        line2("2026-11-01,gpt-4o,10,0,abc\n", "output_tokens of letters", (":2:", "output_tokens")),
        line2("2026-11-01,gpt-4o,-10,0,5\n", "negative input_tokens", (":2:", "input_tokens")),
        line2("2026-11-01,gpt-4o,%s,0,5\n" % I64, "input_tokens past int64", (":2:", "input_tokens")),
        line2("2026-13-01,gpt-4o,10,0,5\n", "a month 13", (":2:", "date")),
        line2("2026-11-01,gpt-4o,1.5,0,5\n", "input_tokens of 1.5", (":2:", "input_tokens")),
        (["reconcile", temp(csv_head.encode() + b"2026-11-01,gpt\xff,10,0,5\n"), "--format", "csv"], 2,
         [":2:", "model"], "a model not UTF-8"),
    ])


def openai_page(start, results):
    """A page of OpenAI's organization/usage/completions, one bucket."""
    return json.dumps({"object": "page", "data": [{"object": "bucket", "start_time": start, "end_time": start + 86400,
                                                  "results": results}], "has_more": False, "next_page": None})


def test_reconcile_pages_and_periods():
    day = 1795996800   # 2026-11-30T00:00:00Z, a UTC day's start
    res = {"object": "organization.usage.completions.result", "model": "gpt-4o", "input_tokens": 10,
           "output_tokens": 5, "input_cached_tokens": 0, "num_model_requests": 1}
    csv_head = "date,model,input_tokens,cached_input_tokens,output_tokens\n"
    ok = temp(csv_head + "2026-11-01,gpt-4o,10,0,5\n")
    table([
        (["reconcile", temp(openai_page(day, [dict(res, input_tokens=-5)]), suffix=".json")], 2, ["input_tokens"],
         "an OpenAI page with negative input_tokens"),
        (["reconcile", temp(openai_page(day, [dict(res, output_tokens=2 ** 64)]), suffix=".json")], 2,
         [U64], "an OpenAI page with output_tokens past 64 bits (the JSON reader names the number)"),
        (["reconcile", temp(openai_page(day + 3600, [res]), suffix=".json")], 2, ["day"],
         "an OpenAI bucket that does not start a UTC day"),
        (["reconcile", temp(openai_page(day, [dict(res, model=None)]), suffix=".json")], 2, ["model"],
         "an OpenAI result without its model"),
        (["reconcile", ok, temp(csv_head + "2026-11-01,gpt-4o,1,0,1\n"), "--format", "csv"], 2, ["gpt-4o"],
         "a day and model in two files"),
        (["reconcile", ok, "--from", "2026-11-02", "--to", "2026-11-01"], 2, ["--to", "2026-11-01"],
         "--to a day before --from"),
        (["reconcile", ok, "--from", "2024-01-01", "--to", "2026-11-01"], 2, ["--from"], "a period past 366 days"),
        (["hold", "resolve", "--from-usage", ok, "--format", "csv"], 2, [":2:", "date"],
         "--from-usage given a day's report, not a minute's"),
    ])


def test_promo_and_plan():
    code, plan = SETUP["promo"], SETUP["plan"]

    def fresh():
        return "BAD" + uid("")[-8:].upper()
    cases = [
        (["promo"], 2, ["usage"], "promo alone"),
        (["promo", "nosuch"], 2, ["nosuch"], "an unknown promo subcommand"),
        (["promo", "create"], 2, ["usage"], "promo create alone"),
        (["promo", "create", fresh()], 2, ["usage"], "promo create without an amount"),
        (["promo", "create", "abc", "5"], 2, ["abc"], "a code of 3 characters"),
        (["promo", "create", "C" * 65, "5"], 2, ["code"], "a code of 65 characters"),
        (["promo", "create", "BAD CODE", "5"], 2, ["BAD CODE"], "a code with a space"),
        (["promo", "create", b"BAD\xc3\xa9CODE", "5"], 2, ["code"], "a code with an e-acute"),
        (["promo", "create", NOT_UTF8, "5"], 2, ["code"], "a code not UTF-8"),
        (["promo", "create", code.lower(), "5"], 1, [code.lower()], "a code that exists in another case"),
        (["promo", "create", fresh(), "5", "--bogus"], 2, ["--bogus"], "an unknown option"),
        (["promo", "create", fresh(), "5", "--max"], 2, ["--max"], "--max without its value"),
        (["promo", "create", fresh(), "5", "--max", "abc"], 2, ["abc"], "--max of letters"),
        (["promo", "create", fresh(), "5", "--max", "0"], 2, ["--max"], "--max of 0"),
        (["promo", "create", fresh(), "5", "--max", "-1"], 2, ["-1"], "--max of -1"),
        (["promo", "create", fresh(), "5", "--expires", "2027-02-30T00:00:00Z"], 2, ["2027-02-30"],
         "--expires the 30th of February"),
        (["promo", "create", fresh(), "5", "--expires"], 2, ["--expires"], "--expires without its value"),
        (["promo", "create", fresh(), "5", "--ttl-days", "abc"], 2, ["abc"], "--ttl-days of letters"),
        (["promo", "create", fresh(), "5", "--ttl-days", "0"], 2, ["--ttl-days"], "--ttl-days of 0"),
        (["promo", "create", fresh(), "5", "--ttl-days", "-1"], 2, ["-1"], "--ttl-days of -1"),
        (["promo", "list", "--bogus"], 2, ["--bogus"], "promo list with an unknown option"),
        (["promo", "create", fresh(), "0"], 2, ["0"], "an amount of 0"),
        (["plan"], 2, ["usage"], "plan alone"),
        (["plan", "nosuch"], 2, ["nosuch"], "an unknown plan subcommand"),
        (["plan", "set"], 2, ["usage"], "plan set alone"),
        (["plan", "set", uid("p")], 2, ["--credits"], "plan set without --credits"),
        (["plan", "set", uid("p"), "--credits"], 2, ["--credits"], "--credits without its value"),
        (["plan", "set", uid("p"), "--credits", "5", "--bogus"], 2, ["--bogus"], "an unknown option"),
        (["plan", "set", uid("p"), "--credits", "5", "--rollover", "sometimes"], 2, ["sometimes"],
         "an unknown rollover"),
        (["plan", "set", uid("p"), "--credits", "5", "--rollover", "full", "--rollover-cap", "5"], 2,
         ["--rollover-cap"], "a cap without capped"),
        (["plan", "set", uid("p"), "--credits", "5", "--member-cap", "-1"], 2, ["-1"], "a negative member cap"),
        (["plan", "set", uid("p"), "--credits", "5"] + sum([["--stripe-price", "price_%d" % i] for i in range(17)],
                                                          []), 2, ["--stripe-price"], "17 Stripe prices"),
        (["plan", "set", "a b", "--credits", "5"], 2, ["a b"], "a plan name with a space"),
        (["plan", "set", "p" * 65, "--credits", "5"], 2, ["name"], "a plan name of 65 characters"),
        (["plan", "set", NOT_UTF8, "--credits", "5"], 2, ["name"], "a plan name not UTF-8"),
        (["plan", "list", "--bogus"], 2, ["--bogus"], "plan list with an unknown option"),
    ]
    cases += [(["promo", "create", fresh(), v], 2, [v] if v else ["amount"], "a promo amount %r" % v)
              for v in BAD_MICROS]
    cases += [(["plan", "set", uid("p"), "--credits", v], 2, [v] if v else ["--credits"], "--credits %r" % v)
              for v in BAD_MICROS]
    cases += [(["plan", "set", plan, "--credits", "5", "--rollover", "capped", "--rollover-cap", v], 2,
               [v] if v else ["--rollover-cap"], "--rollover-cap %r of an existing plan" % v) for v in BAD_MICROS]
    table(cases)


def test_hold_resolve():
    none = "hold_" + "0" * 32
    usage_head = "date,model,input_tokens,cached_input_tokens,output_tokens\n"
    f = temp(usage_head + "2026-11-01T10:00:00Z,gpt-4o,10,0,5\n")
    cases = [
        (["hold"], 2, ["usage"], "hold alone"),
        (["hold", "nosuch"], 2, ["nosuch"], "an unknown hold subcommand"),
        (["hold", "resolve"], 2, ["usage"], "hold resolve alone"),
        (["hold", "resolve", none], 2, ["usage"], "hold resolve without charge or release"),
        (["hold", "resolve", none, "maybe"], 2, ["maybe"], "an unknown action"),
        (["hold", "resolve", none, "release"], 1, [none], "no such hold"),
        (["hold", "resolve", "hold_xyz", "release"], 1, ["hold_xyz"], "a hold id of the wrong shape"),
        (["hold", "resolve", none, "release", "--micros", "5"], 2, ["--micros"], "--micros with release"),
        (["hold", "resolve", none, "charge", "--micros"], 2, ["--micros"], "--micros without its value"),
        (["hold", "resolve", none, "charge", "--bogus"], 2, ["--bogus"], "an unknown option"),
        (["hold", "resolve", "--from-usage"], 2, ["usage"], "--from-usage without a file"),
        (["hold", "resolve", "--from-usage", "/nonexistent/u.csv"], 2, ["/nonexistent/u.csv"], "a missing file"),
        (["hold", "resolve", "--from-usage", f, "--format", "fortran"], 2, ["fortran"], "an unknown format"),
        (["hold", "resolve", "--from-usage", f, "--bogus"], 2, ["--bogus"], "an unknown option"),
        (["hold", "resolve", "--from-usage", temp(usage_head + "2026-11-01T10:00:00Z,gpt-4o,abc,0,5\n"),
          "--format", "csv"], 2, [":2:", "input_tokens"], "input_tokens of letters"),
        (["hold", "resolve", "--from-usage", temp(usage_head + "2026-11-01T25:00:00Z,gpt-4o,1,0,5\n"),
          "--format", "csv"], 2, [":2:", "date"], "an hour 25"),
    ]
    cases += [(["hold", "resolve", none, "charge", "--micros", v], 2, [v] if v else ["--micros"],
               "--micros %r" % v) for v in BAD_MICROS]
    table(cases)


def test_ids_too_long_or_not_utf8_are_looked_up_as_unknown_or_refused():
    """An id that cannot exist (5000 bytes, not UTF-8) is an unknown one
    (exit 1) or a usage error (2): never the database's error."""
    cases = []
    for bad, what in ((LONG, "of 5000 bytes"), (NOT_UTF8, "not UTF-8")):
        cases += [
            (["account", "show", bad], (1, 2), ["account"], "account show of an id " + what),
            (["export", bad], (1, 2), ["account"], "export of an id " + what),
            (["grant", bad, "5", "--source", "promo"], (1, 2), ["account"], "grant to an id " + what),
            (["key", "create", "--scope", "read", "--account", bad], (1, 2), ["account"],
             "a key bound to an id " + what),
            (["collect", "--account", bad, "--dry-run"], 1, ["not found"], "collect for an id " + what),
            (["price", "history", bad], 1, ["no model named"], "price history of a model " + what),
            (["hold", "resolve", bad, "release"], (1, 2), ["hold"], "hold resolve of an id " + what),
            (["price", "set", SETUP["model"], "--provider", bad, "input=1"], 2, ["provider"],
             "price set for a provider " + what),
        ]
    table(cases)


def test_options_given_twice_or_out_of_time():
    a = SETUP["acct"]
    none = "hold_" + "0" * 32
    table([
        (["grant", a, "5", "--source", "promo", "--source", "adjustment"], 2, ["--source", "twice"],
         "--source given twice (the first would win)"),
        (["key", "create", "--scope", "read", "--scope", "admin"], 2, ["--scope", "twice"], "--scope given twice"),
        (["hold", "resolve", none, "charge", "--micros", "5", "--micros", "6"], 2, ["--micros", "twice"],
         "--micros given twice"),
        (["plan", "set", uid("p"), "--credits", "5", "--credits", "6"], 2, ["--credits", "twice"],
         "--credits given twice"),
        (["events", "list", "--limit", "5", "--limit", "6"], 2, ["--limit", "twice"], "--limit given twice"),
        (["grant", a, "5", "--source", "promo", "--expires", "2020-01-01T00:00:00Z"], 2, ["--expires"],
         "a grant expiring in the past"),
        (["promo", "create", "BAD" + uid("")[-8:].upper(), "5", "--expires", "2020-01-01T00:00:00Z"], 2,
         ["--expires"], "a promo code expiring in the past"),
        (["account", "create", a, "--kind", "workspace"], 1, [a], "an existing account with another kind"),
    ])


# ---- the config, the environment file, the database ----

def stack_config():
    with open(ENV["CREDITD_CONFIG"]) as f:
        return f.read()


def config_with(text, mode=0o600):
    return temp(text, mode, ".conf")


def test_config_and_environment_refused():
    conf = stack_config()
    quoted = temp('CREDITD_STRIPE_KEY_SALT="a\\"b"\n', 0o600, ".env")
    table([
        (["verify"], 2, ["/nonexistent/creditd.conf"], "CREDITD_CONFIG names no file"),
    ], config=False, env={"CREDITD_CONFIG": "/nonexistent/creditd.conf"})
    d = temp_dir()
    cases = [
        (["-c", "/nonexistent/creditd.conf", "verify"], 2, ["/nonexistent/creditd.conf"], "-c names no file"),
        (["-c", d, "verify"], 2, [d, "is a directory"], "-c names a directory"),
        (["-c", config_with(conf, 0o666), "verify"], 2, [".conf"], "a config others may write"),
        (["-c", config_with(conf, 0o644), "verify"], 2, [".conf"], "a config with secrets others may read"),
        (["-c", config_with(conf, 0o620), "verify"], 2, [".conf"], "a config with secrets its group may write"),
        (["-c", config_with(conf + "[widget]\ntoken_secret = short\n"), "verify"], 2, ["token_secret"],
         "a signing secret of 5 bytes"),
        (["-c", config_with(conf + "[server]\nno_such_key = 1\n"), "verify"], 2, ["no_such_key"], "an unknown key"),
        (["-c", config_with(conf + "[server]\nthreads = abc\n"), "verify"], 2, ["threads"], "a number of letters"),
        (["-c", config_with(conf + "[server]\nthreads = 0\n"), "verify"], 2, ["threads"], "threads 0"),
        (["-c", config_with(conf.encode() + b"[server]\nlog_level = \xff\n"), "verify"], 2, ["log_level"],
         "a value not UTF-8"),
        (["-c", ENV["CREDITD_CONFIG"], "--env-file", quoted, "verify"], 2, [".env:1:"],
         "an env file with a quote inside a value"),
        (["-c", ENV["CREDITD_CONFIG"], "--env-file", temp("CREDITD_STRIPE_KEY_SALT=x\n", 0o644, ".env"), "verify"],
         2, [".env"], "an env file others may read"),
        (["-c", ENV["CREDITD_CONFIG"], "--env-file", temp("CREDITD_STRIPE_KEY_SALT=x\n", 0o620, ".env"), "verify"],
         2, [".env"], "an env file its group may write"),
        (["-c", ENV["CREDITD_CONFIG"], "--env-file", "/nonexistent/creditd.env", "verify"], 2,
         ["--env-file", "/nonexistent/creditd.env"], "--env-file names no file (a mistyped name: secrets unseen)"),
    ]
    table(cases, config=False)
    table([(["verify"], 2, [".env:1:"], "CREDITD_ENV_FILE with a quote inside a value")],
          env={"CREDITD_ENV_FILE": quoted})
    table([(["verify"], 2, ["CREDITD_ENV_FILE", "/nonexistent/creditd.env"], "CREDITD_ENV_FILE names no file")],
          env={"CREDITD_ENV_FILE": "/nonexistent/creditd.env"})
    table([(["verify"], 2, ["CREDITD_DB_PORT"], "CREDITD_DB_PORT of letters")],
          env={"CREDITD_DB_PORT": "abc", "CREDITD_DB_SOCKET": None})
    table([(["verify"], 2, ["CREDITD_THREADS"], "CREDITD_THREADS of letters")], env={"CREDITD_THREADS": "abc"})


def test_the_database_out_of_reach():
    lines = [x for x in stack_config().splitlines() if not x.strip().startswith(("socket", "host", "port"))]
    at = lines.index("[database]") + 1
    lines.insert(at, "socket = /nonexistent/mysqld.sock")
    conf = config_with("\n".join(lines) + "\n")
    a = SETUP["acct"]
    table([
        (["migrate", "--check"], 4, ["/nonexistent/mysqld.sock"], "migrate --check"),
        (["verify"], 1, ["/nonexistent/mysqld.sock"], "verify"),
        (["account", "show", a], 1, ["/nonexistent/mysqld.sock"], "account show"),
        (["grant", a, "5", "--source", "promo"], 1, ["/nonexistent/mysqld.sock"], "grant"),
        (["key", "list"], 1, ["/nonexistent/mysqld.sock"], "key list"),
        (["price", "set", SETUP["model"], "input=2000000"], 1, ["/nonexistent/mysqld.sock"], "price set"),
        (["sweep"], 1, ["/nonexistent/mysqld.sock"], "sweep"),
    ], config=conf, stdout_ok=lambda out: " failed" in out and " done" not in out)
    table([(["verify"], 1, ["/nonexistent/other.sock"], "CREDITD_DB_SOCKET names no socket")],
          env={"CREDITD_DB_SOCKET": "/nonexistent/other.sock"})
    table([(["verify"], 1, ["access denied"], "CREDITD_DB_PASSWORD not the database's")],
          env={"CREDITD_DB_PASSWORD": "not-the-password"})


# ---- nothing changed ----

def test_nothing_changed_and_the_ledger_verifies():
    eq(state(SETUP["acct"]), SETUP["state"], "the probe account's money, journal and grants")
    p = run(["price", "history", SETUP["model"]])
    eq(len([x for x in p.stdout.decode().splitlines() if x.strip()]), 1, "one price in the model's history")
    plans = [x for x in api("GET", "/v1/plans", auth="read").json["data"] if x["name"] == SETUP["plan"]]
    eq(plans[0]["credits_micros"], 1000000, "the plan as set")
    verify()


def teardown_module():
    if SETUP.get("dir"):
        shutil.rmtree(SETUP["dir"], ignore_errors=True)
