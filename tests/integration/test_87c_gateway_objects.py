"""test_87c_gateway_objects.py: provider objects (DESIGN §15, "Ownership";
docs/gateway.md, "Provider objects") through nginx -> creditd -> the fake
provider (tests/fake_provider.md), raw HTTP and the official SDK: a
response an account made through creditd is retrieved, its input items
listed and deleted at the provider that made it, free; another
account's id, an unknown one, one deleted or forgotten after 30 days is
OpenAI's own 404 and nothing is forwarded; a resumed stream is refused, a
cancel forwarded (the provider refuses one of a response that is not a
background run: test_87d has the runs); the query passes only as the reference names it. The
second provider's part restarts the nginx-side creditd with a section
appended (test_87's way) and starts it again as the stack has it."""
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.parse

import stack
from lib import ENV, api, check, creditctl, eq, key, new_account, sql, verify, wait_until
from test_80_gateway import call, ensure_prices, provider, received, reasons, reset, state
from test_81_gateway_sdks import sdk, sdk_dir

INPUT = [{"role": "user", "content": "first words here"}, {"role": "user", "content": "second words"}]


def req(method, path, acct=None, auth="guard", headers=None):
    """One object route's call (no body) through nginx."""
    ensure_prices()
    u = urllib.parse.urlsplit(ENV["CREDITD_URL"])
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    h = {"Authorization": "Bearer " + key(auth)}
    if acct is not None:
        h["Creditd-Account"] = acct
    h.update(headers or {})
    c.request(method, urllib.parse.urlsplit(ENV["CREDITD_URL"]).path.rstrip("/") + path, headers=h)
    r = c.getresponse()
    body = r.read()
    c.close()
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    return r.status, {k.lower(): v for k, v in r.getheaders()}, parsed


def made(acct, stream=False, model="gpt-4o-mini"):
    """A response the account made through creditd (settled): its id."""
    settled = len(reasons(acct))
    r = call("/openai/v1/responses", {"model": model, "input": INPUT, "max_output_tokens": 16, "stream": stream},
             headers={"Creditd-Account": acct})
    eq(r.status, 200, "a response made: %r" % r.body[:300])
    rid = r.json["id"] if not stream else re.search(r"resp_[0-9a-f]+", r.body.decode()).group(0)
    check(wait_until(lambda: len(reasons(acct)) == settled + 1, timeout=10), "settled")
    return rid


def missing(status, body, rid, what):
    """OpenAI's own 404 for an object it does not have."""
    eq(status, 404, "%s: 404 (%r)" % (what, body))
    eq(body, {"error": {"message": "No response found with id '%s'." % rid, "type": "invalid_request_error",
                        "param": None, "code": None}}, "%s: OpenAI's shape" % what)


ROUTES = (("GET", "/openai/v1/responses/%s"), ("DELETE", "/openai/v1/responses/%s"),
          ("GET", "/openai/v1/responses/%s/input_items"), ("POST", "/openai/v1/responses/%s/cancel"))


def test_an_account_s_own_response_is_retrieved_listed_and_deleted_at_its_provider_free():
    reset()
    acct = new_account("gwobj")
    rid = made(acct)
    balance = state(acct)
    holds = reasons(acct)
    reset()
    status, headers, body = req("GET", "/openai/v1/responses/" + rid, acct)
    eq(status, 200, "its own response retrieved: %r" % body)
    eq((body["id"], body["object"], body["status"]), (rid, "response", "completed"), "the provider's answer")
    eq(body["output"][-1]["content"][0]["text"], " ".join("w%d" % i for i in range(16)), "as the provider stored it")
    eq(headers.get("creditd-provider"), "openai", "the provider that made it answered")
    check("creditd-hold-id" not in headers and "creditd-charged-micros" not in headers, "nothing held or charged")
    status, _, page = req("GET", "/openai/v1/responses/%s/input_items?limit=1&order=asc" % rid, acct)
    eq(status, 200, "its input items: %r" % page)
    eq((page["object"], len(page["data"]), page["has_more"]), ("list", 1, True), "a page of one, more after it")
    first = page["data"][0]["id"]
    status, _, page = req("GET", "/openai/v1/responses/%s/input_items?limit=1&order=asc&after=%s" % (rid, first), acct)
    eq([i["content"][0]["text"] for i in page["data"]], ["second words"], "the next page, after the first")
    status, _, body = req("GET", "/openai/v1/responses/%s?include%%5B%%5D=message.output_text.logprobs&"
                          "include_obfuscation=false" % rid, acct)
    eq(status, 200, "retrieved with the reference's query: %r" % body)
    sent = received()
    eq([(r["method"], r["path"]) for r in sent], [
        ("GET", "/v1/responses/" + rid), ("GET", "/v1/responses/%s/input_items?limit=1&order=asc" % rid),
        ("GET", "/v1/responses/%s/input_items?limit=1&order=asc&after=%s" % (rid, first)),
        ("GET", "/v1/responses/%s?include%%5B%%5D=message.output_text.logprobs&include_obfuscation=false" % rid)],
       "forwarded to the provider with the query as the reference names it")
    for r in sent:
        eq(r["headers"].get("authorization"), "Bearer sk-fake-openai", "with the deployment's key")
    eq(state(acct), balance, "retrieving is free: nothing held or charged")
    eq(reasons(acct), holds, "no usage record")
    reset()
    status, _, body = req("DELETE", "/openai/v1/responses/" + rid, acct)
    eq((status, body), (200, {"id": rid, "object": "response", "deleted": True}), "deleted at the provider")
    check(wait_until(lambda: sql("SELECT COUNT(*) FROM gateway_objects WHERE object_id = '%s'" % rid)[0][0] == "0",
                     timeout=10), "and forgotten")
    for method, path in ROUTES:
        status, _, body = req(method, path % rid, acct)
        missing(status, body, rid, "%s after the delete" % method)
    r = call("/openai/v1/responses", {"model": "gpt-4o-mini", "input": "more", "previous_response_id": rid},
             headers={"Creditd-Account": acct})
    eq((r.status, r.json["error"]["param"]), (400, "previous_response_id"), "nor named in previous_response_id")
    eq([(r["method"], r["path"]) for r in received()], [("DELETE", "/v1/responses/" + rid)],
       "after the delete, nothing more forwarded")
    verify()


def test_another_account_s_id_and_an_unknown_one_are_404_and_never_forwarded():
    reset()
    acct, other = new_account("gwobj"), new_account("gwobjx")
    rid = made(acct)
    streamed = made(acct, stream=True)
    mint = api("POST", "/v1/accounts/%s/gateway_keys" % other, {"name": "other's"}, auth="app")
    eq(mint.status, 201, "a gateway key of the other account: %r" % mint)
    reset()
    before = state(other)
    for who, auth, what in ((other, "guard", "a guard key naming another account"),
                            (None, mint.json["key"], "the other account's own gateway key")):
        for target in (rid, streamed):
            for method, path in ROUTES:
                status, _, body = req(method, path % target, who, auth=auth)
                missing(status, body, target, "%s: %s %s" % (what, method, path))
    for method, path in ROUTES:
        status, _, body = req(method, path % "resp_0123456789abcdef", acct)
        missing(status, body, "resp_0123456789abcdef", "an id nobody made: %s" % method)
    eq(received(), [], "the provider never asked")
    eq(state(other), before, "nothing held of the other account")
    status, _, body = req("GET", "/openai/v1/responses/" + streamed, acct)
    eq((status, body["id"]), (200, streamed), "a streamed response is its maker's too")
    verify()


def test_a_resumed_stream_and_a_query_the_reference_does_not_name_are_refused_a_cancel_forwarded():
    reset()
    acct = new_account("gwobj")
    rid = made(acct)
    reset()
    for path, param in (("/openai/v1/responses/%s?stream=true" % rid, "stream"),
                        ("/openai/v1/responses/%s?after=x" % rid, "after"),
                        ("/openai/v1/responses/%s/input_items?limit=101" % rid, "limit"),
                        ("/openai/v1/responses/%s/input_items?order=up" % rid, "order"),
                        ("/openai/v1/responses/%s/input_items?starting_after=1" % rid, "starting_after")):
        status, _, body = req("GET", path, acct)
        eq((status, body["error"]["type"], body["error"]["param"]), (400, "invalid_request_error", param),
           "%s refused naming %s: %r" % (path, param, body))
    eq(received(), [], "nothing forwarded")
    before = state(acct)
    status, _, body = req("POST", "/openai/v1/responses/%s/cancel" % rid, acct)
    eq((status, body["error"]["type"]), (400, "invalid_request_error"), "the provider's refusal passed on: %r" % body)
    check("background" in body["error"]["message"], "saying why: %r" % body)
    eq([(r["method"], r["path"]) for r in received()], [("POST", "/v1/responses/%s/cancel" % rid)],
       "the cancel forwarded to the provider that made it")
    eq(state(acct), before, "nothing held or charged")
    status, _, body = req("GET", "/openai/v1/responses/%s?stream=false" % rid, acct)
    eq(status, 200, "stream=false is a whole retrieve: %r" % body)


def test_a_response_older_than_30_days_is_forgotten_and_purged_as_before():
    reset()
    acct = new_account("gwobj")
    rid = made(acct)
    sql("UPDATE gateway_objects SET created_at = created_at - 31 * 86400 WHERE object_id = '%s'" % rid)
    reset()
    status, _, body = req("GET", "/openai/v1/responses/" + rid, acct)
    missing(status, body, rid, "a response past 30 days")
    eq(received(), [], "not forwarded")
    creditctl("sweep")
    eq(sql("SELECT COUNT(*) FROM gateway_objects WHERE object_id = '%s'" % rid), [["0"]], "purged by the sweep")


def test_a_row_kept_before_the_migration_goes_to_the_kind_s_first_provider():
    """sql/061: a row an older creditd kept (through the view of the old
    name, provider NULL) is reachable; it goes to the kind's first
    provider."""
    reset()
    acct = new_account("gwobj")
    rid = made(acct)
    sql("DELETE FROM gateway_objects WHERE object_id = '%s'" % rid)
    sql("INSERT INTO gateway_responses (account_id, response_id, created_at) SELECT id, '%s', UNIX_TIMESTAMP() "
        "FROM accounts WHERE ext_id = '%s'" % (rid, acct))
    eq(sql("SELECT kind, provider IS NULL FROM gateway_objects WHERE object_id = '%s'" % rid), [["response", "1"]],
       "kept through the old name: a response, no provider")
    reset()
    status, headers, body = req("GET", "/openai/v1/responses/" + rid, acct)
    eq((status, body["id"], headers.get("creditd-provider")), (200, rid, "openai"), "retrieved at the first provider")


def test_the_official_sdk_retrieves_lists_and_deletes_and_is_told_404_for_another_s():
    reset()
    acct, other = new_account("sdkobj"), new_account("sdkobjx")
    r = sdk("openai_response_objects", acct)
    eq((r["retrieved"], r["status"]), (r["id"], "completed"), "responses.retrieve: %r" % r)
    eq(r["text"], " ".join("w%d" % i for i in range(16)), "its output_text")
    eq(len(r["items"]), 2, "inputItems.list paged through both items, one a page: %r" % r["items"])
    eq((r["after"]["thrown"], r["after"]["isClass"], r["after"]["status"]), (True, True, 404),
       "retrieve after delete: NotFoundError")
    rid = made(other)
    reset()
    d = sdk_dir()
    env = dict(os.environ, BASE=ENV["CREDITD_URL"], KEY=key("guard"), ACCOUNT=acct, OBJECT=rid)
    p = subprocess.run(["node", os.path.join(d, "gateway_sdk.mjs"), "openai_response_foreign"], capture_output=True,
                       text=True, timeout=120, env=env, cwd=d)
    out = json.loads(p.stdout.strip().splitlines()[-1])
    for what in ("retrieve", "items", "delete"):
        eq((out[what]["thrown"], out[what]["isClass"], out[what]["status"], out[what]["type"]),
           (True, True, 404, "invalid_request_error"), "%s of another account's response: %r" % (what, out))
    eq(received(), [], "the provider never asked")
    verify()


# ---- the provider that made it (docs/gateway.md, "Many providers") ----

_second = {}


def second():
    """A second provider of the OpenAI kind serving "second-model", and
    creditd restarted with its section, once a run: its port."""
    if _second:
        return _second["port"]
    pf = stack.path("fake_second.port")
    if os.path.exists(pf):
        os.unlink(pf)
    stack.start("fake_second", [sys.executable, os.path.join(stack.ROOT, "tests", "fake_provider.py"), "--port", "0",
                                "--port-file", pf])
    check(wait_until(lambda: os.path.exists(pf) and open(pf).read().strip() != "", timeout=10), "second did not start")
    port = int(open(pf).read().strip())
    from test_80_gateway import import_prices
    import_prices("margin,10500\nmodel,second-model,150000,75000,600000,16384\n")
    conf = stack.path("creditd-objects.conf")
    shutil.copy(ENV["CREDITD_CONFIG"], conf)
    with open(conf, "a") as f:
        f.write("\n[provider second]\nbase_url = http://127.0.0.1:%d/v1\napi_key = sk-fake-openai\n"
                "models = second-model=gpt-4o-mini\n" % port)
    os.chmod(conf, 0o600)
    stack.creditd_kill9()
    stack.creditd_start(config=conf)
    _second["port"] = port
    return port


def teardown_module():
    if _second:
        stack.creditd_kill9()
        stack.creditd_start()
        try:
            os.killpg(stack.pid_of("fake_second"), signal.SIGKILL)
        except ProcessLookupError:
            pass
        stack.forget("fake_second")
        _second.clear()


def test_a_response_is_reached_at_the_provider_that_made_it():
    port = second()
    reset()
    provider("POST", "/_reset", {}, port=port)
    acct = new_account("gwobj2")
    rid = made(acct, model="second-model")
    reset()
    provider("POST", "/_reset", {}, port=port)
    status, headers, body = req("GET", "/openai/v1/responses/" + rid, acct)
    eq((status, body["id"], headers.get("creditd-provider")), (200, rid, "second"), "retrieved at the second: %r" % body)
    eq(sql("SELECT provider FROM gateway_objects WHERE object_id = '%s'" % rid), [["second"]], "its provider on record")
    status, _, body = req("DELETE", "/openai/v1/responses/" + rid, acct)
    eq((status, body.get("deleted")), (200, True), "deleted there")
    eq(received(), [], "the first provider never asked")
    at_second = [(r["method"], r["path"]) for r in provider("GET", "/_requests", port=port)
                 if not r["path"].startswith("/_")]
    eq(at_second, [("GET", "/v1/responses/" + rid), ("DELETE", "/v1/responses/" + rid)], "both went to the second")
    verify()
