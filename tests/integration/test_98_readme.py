"""test_98_readme.py: the README's quickstart, run as a reader would paste it.

Every block runs in a fresh shell (nothing of the test's environment but
PATH and HOME) that sources this stack's demo.env, written by the same
function `./dev demo` writes .dev/demo.env with: the shell blocks as
pasted, the Python, PHP and Node examples as programs started from that
shell (so the file must export what it sets, PYTHONPATH included), each
on an account of its own named like the demo's.
It must run without an error, hold and settle, and leave one usage row in
the journal for exactly the cost of 1,200 tokens in and 350 out; the
top-up example must answer a Checkout URL.
"""
import json
import os
import re
import shlex
import subprocess
import tempfile

from lib import ENV, api, check, eq, new_account, wait_until
from test_20_guard import cost

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def readme_code(lang):
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    quick = text[text.index("## Quickstart"):]
    quick = quick[:quick.index("\n## ", 1)]
    found = re.findall(r"```%s\n(.*?)```" % lang, quick, re.S)
    eq(len(found), 1, "one %s example in the quickstart" % lang)
    return found[0]


FRESH = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root")}


def demo_env():
    """This stack's demo.env, made by ./dev demo's own demo_env_file."""
    out = os.path.join(ENV["CREDITD_STACK_DIR"], "readme.env")  # named apart from /demo, which the blocks rename
    p = subprocess.run(["bash", "-c", 'ROOT="$1"; . "$1/devtools/stack.sh"; demo_env_file "$2" "$3" '
                        "CREDITD_DEMO_ACCOUNT=demo", "-", ROOT,
                        os.path.join(ENV["CREDITD_STACK_DIR"], "stack.env"), out],
                       capture_output=True, text=True, timeout=30)
    eq(p.returncode, 0, "demo_env_file: %s" % p.stderr)
    return out


def run_client(argv, code, acct, suffix, cwd=ROOT):
    """Runs a client example from the repository's root on acct (for "demo"),
    with a request id of its own, from a fresh shell that sourced demo.env;
    checks one usage of the example's cost."""
    code = code.replace('"demo"', '"%s"' % acct).replace("'demo'", "'%s'" % acct)
    code = code.replace("msg-1", "msg-" + suffix)
    shell = ["bash", "-c", 'source "$1"; shift; exec "$@"', "-", demo_env()] + argv
    p = subprocess.run(shell, input=code, capture_output=True, text=True, env=FRESH, cwd=cwd, timeout=60)
    check(p.returncode == 0, "%s example failed: %s %s" % (argv[0], p.stdout, p.stderr))
    r = api("GET", "/v1/accounts/%s/transactions?limit=5" % acct, auth="read")
    want = cost("gpt-4o", 1200, 350)
    eq([t["amount_micros"] for t in r.json["data"] if t["cause"] == "usage"], [-want],
       "the %s example charged 1,200 in and 350 out" % argv[0])


def test_the_client_examples_run_as_written():
    run_client(["/usr/bin/python3", "-"], readme_code("python"), new_account("demo"), "py")
    run_client(["php"], readme_code("php"), new_account("demo"), "php")
    # Node: saved under the name its first line gives, in a project as
    # `npm init -y` makes it (CommonJS by default), with the package
    # installed as the comment says.
    js = readme_code("js")
    name = re.match(r"// (\S+\.mjs) ", js)
    check(name is not None, "the Node example names its .mjs file: %r" % js[:120])
    app = tempfile.mkdtemp(prefix="readme-node.", dir=ENV["CREDITD_STACK_DIR"])
    npm_env = dict(FRESH, npm_config_cache=os.path.join(app, ".npm-cache"))
    for argv in (["npm", "init", "-y"], ["npm", "install", "--no-audit", "--no-fund", os.path.join(ROOT, "clients", "node")]):
        p = subprocess.run(argv, cwd=app, capture_output=True, text=True, env=npm_env, timeout=120)
        eq(p.returncode, 0, "%s: %s" % (" ".join(argv), p.stderr))
    with open(os.path.join(app, "package.json")) as f:
        check(json.load(f).get("type") != "module", "npm init's project is CommonJS")
    acct = new_account("demo")
    with open(os.path.join(app, name.group(1)), "w") as f:
        f.write(js.replace('"demo"', '"%s"' % acct).replace("msg-1", "msg-js"))
    run_client(["node", name.group(1)], "", acct, "js", cwd=app)


def readme_blocks():
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    quick = text[text.index("## Quickstart"):]
    quick = quick[:quick.index("\n## ", 1)]
    return re.findall(r"```sh\n(.*?)```", quick, re.S)


def run(script, acct):
    check("source .dev/demo.env" in script, "the block starts from the demo's environment")
    script = script.replace("source .dev/demo.env", "source " + shlex.quote(demo_env())).replace("/demo", "/" + acct)
    script = script.replace('"account":"demo"', '"account":"%s"' % acct)
    p = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], capture_output=True, text=True, env=FRESH,
                       cwd=ROOT, timeout=60)
    check(p.returncode == 0, "the quickstart failed: %s %s" % (p.stdout, p.stderr))
    return p.stdout


def test_the_quickstart_runs_as_written():
    blocks = readme_blocks()
    eq(len(blocks), 2, "the quickstart's two shell blocks")
    acct = new_account("demo")
    out = run(blocks[0], acct)
    check('"balance_micros":10000000' in out, "step 1 shows the 10 EUR bonus: %s" % out)
    want = cost("gpt-4o", 1200, 350)
    check('"charged_micros":%d' % want in out, "step 3 charged 1,200 in and 350 out (%d): %s" % (want, out))
    r = api("GET", "/v1/accounts/%s/transactions?limit=5" % acct, auth="read")
    usage = [t for t in r.json["data"] if t["cause"] == "usage"]
    eq([t["amount_micros"] for t in usage], [-want], "one usage row in the journal")
    # The reader pastes the second block in the same shell: the first's
    # variables are set.
    out = run(blocks[0] + blocks[1], acct)
    check('"checkout_url":"' in out and '"session_id":"' in out, "the top-up answers a Checkout URL: %s" % out)


# ---- the gateway's section: one line ----------------------------------------

def gateway_section(lang):
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    part = text[text.index("## The gateway: one line"):]
    part = part[:part.index("\n## ", 1)]
    found = re.findall(r"```%s\n(.*?)```" % lang, part, re.S)
    eq(len(found), 1, "one %s example in the gateway's section" % lang)
    return found[0].replace('"demo"', '"%s"').replace("Creditd-Account: demo", "Creditd-Account: %s")


def test_the_gateway_examples_run_as_written():
    from test_80_gateway import ensure_prices, state
    from test_81_gateway_sdks import sdk_dir
    ensure_prices()
    acct = new_account("demo")
    before = state(acct)[0]
    envfile = demo_env()
    script = gateway_section("sh").replace("%s", acct).replace("source .dev/demo.env", "source " + shlex.quote(envfile))
    p = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], capture_output=True, text=True, env=FRESH,
                       timeout=60)
    check(p.returncode == 0 and '"choices"' in p.stdout, "the curl example: %s %s" % (p.stdout, p.stderr))
    after_curl = state(acct)[0]
    check(after_curl < before, "the curl call was charged")
    js = gateway_section("js").replace("%s", acct)
    name = re.match(r"// (\S+\.mjs) ", js)
    check(name is not None, "the Node example names its .mjs file: %r" % js[:120])
    with open(os.path.join(sdk_dir(), name.group(1)), "w") as f:
        f.write(js)
    p = subprocess.run(["bash", "-c", 'source "$1"; exec node "$2"', "-", envfile, name.group(1)],
                       capture_output=True, text=True, env=FRESH, cwd=sdk_dir(), timeout=60)
    check(p.returncode == 0 and p.stdout.startswith("w0 w1"), "the Node example streamed: %r %s" % (p.stdout, p.stderr))
    # A stream is settled once it ended: the client may see its end first.
    check(wait_until(lambda: state(acct)[0] < after_curl and state(acct)[1] == 0, timeout=10),
          "the Node example's stream was charged")
