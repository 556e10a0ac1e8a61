"""test_98b_doc_curls.py: every curl of README.md and docs/*.md, taken from
the Markdown at test time and run against this stack as the demo runs it
(so a page cannot drift from what works).

Each page's ```sh blocks that call curl run in order in one fresh shell (a
reader following the page: a block may use what an earlier one set, as
api.md's $HOLD), after `source` of the demo's environment
(.dev/demo.env, written by ./dev demo's own function) and api.md's
variables ($U, $A, $G, $R, $P, $J), which the other pages use too. The
accounts the pages name (alice, team-1, demo) are renamed to ones of this
run; an id a reader copies from an answer into the next call ($HOLD,
the example gateway key gwk_42) is taken from that answer (COPIED). curl
is wrapped by a shell function that records each call's HTTP status: every call must answer 2xx, or the status EXPECTED names for it,
and every curl line of a page must have run. A block that cannot run here
is in NOT_RUN, named with the reason (never skipped silently); a host the
page uses as an example is in HOSTS, replaced by the stack's URL.
Every model a page's curl names must be priced by etc/prices.csv: the
demo and a fresh package install price only those."""
import os
import re
import shlex
import subprocess
import tempfile

from lib import ENV, api, check, eq, uid
from test_98_readme import FRESH, ROOT, demo_env

# (page, text of the block's first curl line): why it cannot run here.
NOT_RUN = {
    ("docs/reconciliation.md", 'curl -fsS "https://api.openai.com/v1/organization/usage/completions?start_time=$start'):
        "OpenAI's organization usage API: needs a real OpenAI admin key (test_65 replays its answers)",
    ("docs/reconciliation.md", 'curl -fsS "https://api.openai.com/v1/organization/usage/$kind?start_time=$start&'):
        "OpenAI's organization usage API for the media routes: needs a real OpenAI admin key (test_65c replays "
        "their answers)",
    ("docs/reconciliation.md", 'curl -fsS "https://api.anthropic.com/v1/organizations/usage_report/messages'):
        "Anthropic's usage report API: needs a real Anthropic admin key (test_65 replays its answers)",
    ("docs/reconciliation.md", 'curl -fsS "https://api.openai.com/v1/organization/usage/completions?start_time=$from&'):
        "OpenAI's and Anthropic's 1-minute usage: need real admin keys (test_87b writes pages of their shape)",
}

# Example hosts a page's curl names, as this stack's URL.
HOSTS = {"https://example.com/credits": "$CREDITD_URL"}

# (page, text in the call's arguments): the status the page says it
# answers there, and where it says so.
EXPECTED = {
    ("docs/api.md", '{"auto_recharge":{"threshold_micros"'):
        (400, "auto-recharge needs a saved card, stored once Checkout is paid: 'without one the PATCH is 400'"),
    ("docs/api.md", "/v1/guard/release"):
        (409, "the page releases the hold it settled just above: 'after a settle ... → 409'"),
}

# What a reader copies from an answer into the next call: the page's
# example ids, as the last answer that made one named it.
# (text in the page, the shell variable set, what grep -o finds in the
# answer, the route whose answer sets it)
COPIED = {"gwk_42": ("GWK", r'"id":"gwk_[0-9]+"', "/gateway_keys"),
          "$HOLD": ("HOLD", r'"hold_id":"hold_[0-9a-f]+"', "/v1/guard/authorize")}

WRAPPER = r'''
curl() {
	local h b rc
	h=$(mktemp "$DOC_CURLS/h.XXXXXX")
	b=$(mktemp "$DOC_CURLS/b.XXXXXX")
	command curl "$@" -D "$h" >"$b"
	rc=$?
	cat "$b"
	copy_ids "$*" "$b"
	local args="$*"
	printf '%s\t%s\t%s\n' "$(head -n1 "$h" | cut -d' ' -f2)" "$rc" "${args//$'\n'/ }" >>"$DOC_CURLS/calls.log"
	rm -f "$h" "$b"
	return $rc
}
'''


def pages():
    out = ["README.md"] + sorted("docs/" + f for f in os.listdir(os.path.join(ROOT, "docs")) if f.endswith(".md"))
    return out


def curl_lines(block):
    """The lines of a block that call curl (not a comment's mention)."""
    return [line for line in block.splitlines() if re.search(r"(^|[\s($|])curl ", line.split("#")[0])]


def sh_blocks(page):
    """The page's ```sh blocks that call curl, in order, dedented."""
    with open(os.path.join(ROOT, page)) as f:
        text = f.read()
    blocks = []
    for m in re.finditer(r"^( *)```(?:sh|bash|shell)\n(.*?)^ *```", text, re.S | re.M):
        indent = len(m.group(1))
        block = "\n".join(line[indent:] if line[:indent].strip() == "" else line for line in m.group(2).splitlines())
        if curl_lines(block):
            blocks.append(block)
    return blocks


def api_variables():
    """api.md's block that sets $U, $A, $G, $R, $P and $J."""
    with open(os.path.join(ROOT, "docs", "api.md")) as f:
        text = f.read()
    m = re.search(r"```sh\n(U=\$CREDITD_URL;.*?)```", text, re.S)
    check(m is not None, "api.md sets its variables in a block of its own")
    return m.group(1)


def renamed(script, names):
    for old, new in names.items():
        script = re.sub(r"(?<![\w-])%s(?![\w-])" % re.escape(old), new, script)
    return script


def runnable(page):
    """The page's blocks to run, and the not-run ones with their reasons."""
    run, skipped = [], []
    for block in sh_blocks(page):
        first = curl_lines(block)[0].strip()
        why = [reason for (p, start), reason in NOT_RUN.items() if p == page and first.startswith(start)]
        (skipped if why else run).append((block, why[0] if why else None))
    return [b for b, _ in run], [(b, w) for b, w in skipped]


def models_named(block):
    return re.findall(r'\\?"model\\?"\s*:\s*\\?"([^"\\]+)', block)


def shipped_models():
    with open(os.path.join(ROOT, "etc", "prices.csv")) as f:
        return {line.split(",")[1] for line in f if line.startswith("model,")}


def run_page(page, blocks):
    work = tempfile.mkdtemp(prefix="doc-curls.", dir=ENV["CREDITD_STACK_DIR"])
    suffix = uid("d")[-8:]
    names = {"alice": "alice-" + suffix, "team-1": "team1-" + suffix, "demo": "demo-" + suffix}
    # The demo account exists in the demo; alice and team-1 are made by
    # api.md's own calls, and exist already for the pages that follow it.
    made = ["demo"] if page == "docs/api.md" else ["demo", "alice", "team-1"]
    for name in made:
        kind = "workspace" if name == "team-1" else "user"
        r = api("POST", "/v1/accounts", {"id": names[name], "kind": kind})
        check(r.status in (200, 201), "account %s: %r" % (names[name], r))
    script = "\n".join(blocks)
    for host, url in HOSTS.items():
        script = script.replace(host, url)
    script = renamed(script.replace("source .dev/demo.env", ""), names)
    copy = ["copy_ids() {", "\tlocal v"]
    for text, (var, pattern, route) in COPIED.items():
        script = script.replace(text, "$" + var)
        copy.append('\tcase $1 in *%s*) v=$(grep -oE %s "$2" | head -n1 | cut -d\\" -f4); [ -z "$v" ] || %s=$v ;; esac'
                    % (route, shlex.quote(pattern), var))
    copy.append("\treturn 0\n}")
    prelude = "source %s\n%s\n%s\n%s\n" % (shlex.quote(demo_env()), api_variables(), WRAPPER, "\n".join(copy))
    p = subprocess.run(["bash", "-c", prelude + script], capture_output=True, text=True, cwd=ROOT, timeout=300,
                       env=dict(FRESH, DOC_CURLS=work))
    log = os.path.join(work, "calls.log")
    calls = []
    if os.path.exists(log):
        with open(log) as f:
            calls = [line.rstrip("\n").split("\t", 2) for line in f]
    return calls, p


def test_every_doc_curl_answers_as_the_page_says():
    priced = shipped_models()
    failures, ran, reasons = [], 0, []
    for page in pages():
        blocks, skipped = runnable(page)
        reasons += ["%s: %s" % (page, why) for _, why in skipped]
        if not blocks:
            continue
        for model in {m for b in blocks for m in models_named(b)}:
            if model not in priced:
                failures.append("%s names model %s, which etc/prices.csv does not price" % (page, model))
        calls, p = run_page(page, blocks)
        want = sum(len(curl_lines(b)) for b in blocks)
        if len(calls) != want:
            failures.append("%s: %d curl calls ran, the page has %d curl lines: %s %s"
                            % (page, len(calls), want, p.stdout[-1500:], p.stderr[-1500:]))
        for status, rc, args in calls:
            expected = [s for (pg, text), (s, _) in EXPECTED.items() if pg == page and text in args]
            ok = status == str(expected[0]) if expected else status[:1] == "2"
            if not ok or (rc != "0" and not expected):
                failures.append("%s: curl %s answered %s (curl exit %s)" % (page, args[:200], status or "nothing", rc))
        ran += len(calls)
    eq(sorted(reasons), sorted("%s: %s" % (p, w) for (p, _), w in NOT_RUN.items()),
       "every block not run is named, and every one named exists")
    eq(failures, [], "the docs' curls")
    check(ran >= 40, "the docs' curls ran: %d" % ran)
