"""test_96b_gateway_batch_contract.py: the Batch API's contract as the
official SDKs and plain HTTP see it (docs/gateway.md, "Batches"), beyond
test_96: a message batch's results_url is creditd's own results route on
the request's own origin, never the provider's (the Anthropic SDK's
messages.batches.results fetches it as it is: creditd's key would go
around creditd); each provider kind's routes see their own kind's
batches alone; a create and a list are checked as the references say
before anything is held or forwarded; a deleted input file is forgotten
(its list, a batch made from it); the 404 of an object the account does
not have is in the route's provider's shape. Nothing refused is held,
forwarded or recorded; creditctl verify finds nothing."""
import json
import os
import subprocess
import urllib.parse

import test_88b_gateway_batches as batches
from lib import ENV, api, check, eq, key, new_account, verify
from test_80_gateway import call, provider, received, state
from test_81_gateway_sdks import sdk_dir
from test_96_gateway_contract import anthropic_shape, holds_of, openai_shape, posted, usage_report

SDK_JS = r"""
import Anthropic from "@anthropic-ai/sdk";
const anthropic = new Anthropic({ baseURL: process.env.BASE + "/anthropic", apiKey: process.env.KEY,
  defaultHeaders: { "Creditd-Account": process.env.ACCOUNT }, maxRetries: 0 });
const cases = {
  async results() {
    const b = await anthropic.messages.batches.retrieve(process.env.ARG);
    const rows = [];
    for await (const r of await anthropic.messages.batches.results(process.env.ARG))
      rows.push([r.custom_id, r.result.type]);
    return { results_url: b.results_url, rows: rows.sort() };
  },
};
cases[process.argv[2]]().then((r) => console.log(JSON.stringify(r)),
  (e) => { console.log(JSON.stringify({ failed: String(e), status: e.status ?? null })); process.exit(1); });
"""

HEAD = {"anthropic-version": "2023-06-01"}
REQ = {"custom_id": "a", "params": {"model": "claude-sonnet-4-5", "max_tokens": 20,
                                    "messages": [{"role": "user", "content": "hi"}]}}
OK = {"endpoint": "/v1/chat/completions", "completion_window": "24h"}


def js(case, acct, arg):
    d = sdk_dir()
    path = os.path.join(d, "contract_96b.mjs")
    with open(path, "w") as f:
        f.write(SDK_JS)
    e = dict(os.environ, BASE=ENV["CREDITD_URL"], KEY=key("guard"), ACCOUNT=acct, ARG=arg)
    p = subprocess.run(["node", path, case], capture_output=True, text=True, timeout=120, env=e, cwd=d)
    check(p.stdout.strip(), "%s printed nothing: %s" % (case, p.stderr[-1500:]))
    return json.loads(p.stdout.strip().splitlines()[-1])


def an(acct, path, body=None, base=None):
    h = dict(HEAD, **{"Creditd-Account": acct})
    if base is None:
        return call(path, body, headers=h)
    return api("POST" if body is not None else "GET", path, body, auth="guard", headers=h, base=base)


def oa(acct, path, body=None):
    return call(path, body, headers={"Creditd-Account": acct})


def message_batch(acct, ids=("s1", "s2", "err1")):
    r = an(acct, "/anthropic/v1/messages/batches", {"requests": [dict(REQ, custom_id=c) for c in ids]})
    eq(r.status, 200, "a message batch made: %r" % r.body[:300])
    return r.json


def openai_batch(acct):
    r = oa(acct, "/openai/v1/batches", dict(OK, input_file_id=batches.upload(acct, [batches.line("o1")]).json["id"]))
    eq(r.status, 200, "a batch made: %r" % r.body[:300])
    return r.json


def test_a_message_batch_s_results_url_is_creditd_s_own_and_the_sdk_reads_through_it():
    """Retrieve, list and cancel answer a results_url of creditd's own
    results route on the request's origin (nginx's, and Apache's under its
    base path /credits); the SDK's messages.batches.results(id) reads the
    results through it, the provider never asked by the client."""
    batches.batch_prices()
    batches.control(reset=True, complete=True)
    acct = new_account("ctburl")
    made = message_batch(acct)
    eq(made["results_url"], None, "none while it runs")
    batches.done(made["id"])
    mine = ENV["CREDITD_URL"] + "/anthropic/v1/messages/batches/%s/results" % made["id"]
    got = an(acct, "/anthropic/v1/messages/batches/" + made["id"]).json
    eq(got["results_url"], mine, "retrieve: creditd's own results route, not the provider's")
    listed = an(acct, "/anthropic/v1/messages/batches").json["data"]
    eq([x["results_url"] for x in listed], [mine], "the list's too")
    eq(an(acct, "/anthropic/v1/messages/batches/%s/cancel" % made["id"], {}).json["results_url"], mine,
       "and a cancel's answer (an ended batch's cancel answers it as it is)")
    apache = ENV["CREDITD_APACHE_URL"]
    eq(an(acct, "/anthropic/v1/messages/batches/" + made["id"], base=apache).json["results_url"],
       apache + "/anthropic/v1/messages/batches/%s/results" % made["id"], "behind Apache: its origin and base path")
    provider_host = urllib.parse.urlsplit(ENV["CREDITD_PROVIDER_URL"]).netloc
    check(provider_host not in json.dumps(got), "the provider's address is in no answer: %r" % got)
    before = len(received())
    out = js("results", acct, made["id"])
    check("failed" not in out, "the SDK's results(): %r" % out)
    eq(out["results_url"], mine, "as the SDK sees it")
    eq(out["rows"], [["err1", "errored"], ["s1", "succeeded"], ["s2", "succeeded"]], "the results, through creditd")
    asked = [x for x in received()[before:] if x["path"].endswith("/results")]
    eq(len(asked), 1, "creditd asked the provider for them, once: %r" % asked)
    verify()


def test_each_kind_s_routes_see_their_own_kind_s_batches_alone():
    """An account with a batch of each kind: each list shows its own kind;
    the other kind's id on retrieve or cancel is the same 404 as an id
    nobody made, in the route's shape, nothing forwarded."""
    batches.batch_prices()
    batches.control(reset=True, complete=False)
    acct = new_account("ctbkind")
    with batches.finishing(acct):
        ob, mb = openai_batch(acct)["id"], message_batch(acct)["id"]
        eq([x["id"] for x in oa(acct, "/openai/v1/batches").json["data"]], [ob], "OpenAI's list: its batches alone")
        eq([x["id"] for x in an(acct, "/anthropic/v1/messages/batches").json["data"]], [mb],
           "Anthropic's list: its message batches alone")
        sent = len(posted())
        for bid in (mb, "batch_nobody_made"):
            e = openai_shape(oa(acct, "/openai/v1/batches/" + bid), 404, None, "OpenAI retrieve of %s" % bid)
            eq((e["type"], e["code"]), ("invalid_request_error", None), "OpenAI's own 404")
            e = openai_shape(oa(acct, "/openai/v1/batches/%s/cancel" % bid, {}), 404, None, "OpenAI cancel of %s" % bid)
            eq((e["type"], e["code"]), ("invalid_request_error", None), "OpenAI's own 404")
        for bid in (ob, "msgbatch_nobody_made"):
            anthropic_shape(an(acct, "/anthropic/v1/messages/batches/" + bid), 404, "Anthropic retrieve of %s" % bid)
            anthropic_shape(an(acct, "/anthropic/v1/messages/batches/%s/cancel" % bid, {}), 404,
                            "Anthropic cancel of %s" % bid)
            anthropic_shape(an(acct, "/anthropic/v1/messages/batches/%s/results" % bid), 404,
                            "Anthropic results of %s" % bid)
        eq(len(posted()), sent, "nothing forwarded")
        eq(oa(acct, "/openai/v1/batches/%s/cancel" % ob, {}).status, 200, "its own kind's cancel still goes")
    verify()


def test_a_create_and_a_list_are_checked_as_the_references_say_before_anything_is_held():
    """completion_window "24h" alone and required; input_file_id text;
    Anthropic's custom_id ^[a-zA-Z0-9_-]{1,64}$; a list's limit in the
    reference's range and an integer; before_id and any other parameter
    refused by name: 400 in the route's shape, nothing held or forwarded."""
    batches.batch_prices()
    batches.control(reset=True, complete=False)
    acct = new_account("ctbcheck")
    with batches.finishing(acct):
        fid = batches.upload(acct, [batches.line("v1")]).json["id"]
        before, sent = state(acct), len(posted())
        for body, param in [(dict(input_file_id=fid, endpoint=OK["endpoint"]), "completion_window"),
                            (dict(OK, input_file_id=fid, completion_window="48h"), "completion_window"),
                            (dict(OK, input_file_id=fid, completion_window=24), "completion_window"),
                            (dict(OK, input_file_id=123), "input_file_id"),
                            (dict(OK, input_file_id=[fid]), "input_file_id")]:
            e = openai_shape(oa(acct, "/openai/v1/batches", body), 400, param, "create %r" % body)
            eq(e["type"], "invalid_request_error", "a 400's type")
        for cid in ("has space", "dot.ted", "x" * 65, ""):
            anthropic_shape(an(acct, "/anthropic/v1/messages/batches", {"requests": [dict(REQ, custom_id=cid)]}), 400,
                            "custom_id %r" % cid)
        for q, param in [("limit=0", "limit"), ("limit=101", "limit"), ("limit=abc", "limit"), ("limit=2.5", "limit"),
                         ("limit=", "limit"), ("after=", "after"), ("after=x&mystery=1", "mystery"),
                         ("before_id=batch_1", "before_id")]:
            openai_shape(oa(acct, "/openai/v1/batches?" + q), 400, param, "OpenAI list ?%s" % q)
        for q in ("limit=0", "limit=1001", "limit=-1", "limit=ten", "before_id=msgbatch_1", "order=asc"):
            anthropic_shape(an(acct, "/anthropic/v1/messages/batches?" + q), 400, "Anthropic list ?%s" % q)
        eq(oa(acct, "/openai/v1/batches?limit=100").status, 200, "OpenAI's largest page")
        eq(an(acct, "/anthropic/v1/messages/batches?limit=1000&after_id=msgbatch_x").status, 200,
           "Anthropic's largest page, with its cursor")
        eq(len(posted()), sent, "nothing forwarded")
        eq(state(acct), before, "nothing held or charged")
        eq(holds_of(acct), [], "no hold in flight")
        ok = an(acct, "/anthropic/v1/messages/batches", {"requests": [dict(REQ, custom_id="A-z_09" + "x" * 58)]})
        eq(ok.status, 200, "64 of the pattern's characters taken: %r" % ok.body[:300])
    verify()


def test_a_deleted_input_file_is_forgotten_and_makes_no_batch():
    batches.batch_prices()
    batches.control(reset=True, complete=False)
    acct = new_account("ctbdel")
    kept, gone = (batches.upload(acct, [batches.line(c)]).json["id"] for c in ("k1", "g1"))
    eq(batches.http_delete(acct, "/openai/v1/files/" + gone), 200, "deleted")
    eq([x["id"] for x in oa(acct, "/openai/v1/files").json["data"]], [kept], "forgotten in the list")
    openai_shape(oa(acct, "/openai/v1/files/" + gone), 404, "id", "retrieved")
    before, sent = state(acct), len(posted())
    e = openai_shape(oa(acct, "/openai/v1/batches", dict(OK, input_file_id=gone)), 404, "input_file_id",
                     "a batch from the deleted file")
    eq((e["type"], e["code"]), ("invalid_request_error", None), "OpenAI's own 404")
    eq(len(posted()), sent, "nothing forwarded")
    eq(state(acct), before, "nothing held")
    eq(usage_report(acct)["requests"], 0, "nothing recorded")
    verify()


def test_a_deleted_output_file_is_forgotten_too():
    """A settled batch's output file, deleted through creditd, is then
    creditd's own 404, the provider no longer asked."""
    batches.batch_prices()
    batches.control(reset=True, complete=True)
    acct = new_account("ctbdelout")
    bid = openai_batch(acct)["id"]
    batches.done(bid)
    out = oa(acct, "/openai/v1/batches/" + bid).json["output_file_id"]
    eq(oa(acct, "/openai/v1/files/" + out).status, 200, "the output file, the account's")
    eq(batches.http_delete(acct, "/openai/v1/files/" + out), 200, "deleted")
    before = len(received())
    for path in ("/openai/v1/files/" + out, "/openai/v1/files/%s/content" % out):
        e = openai_shape(oa(acct, path), 404, "id", path)
        eq((e["type"], e["code"]), ("invalid_request_error", None), "OpenAI's own 404")
    eq([x["path"] for x in received()[before:] if out in x["path"]], [], "the provider not asked")
    verify()


def test_another_account_s_batch_and_file_are_404_in_the_provider_s_shape():
    """OpenAI's 404 for an id it does not know (invalid_request_error,
    code null) on its batch and file routes, as for a response;
    Anthropic's not_found_error on its own."""
    batches.batch_prices()
    batches.control(reset=True, complete=False)
    acct, other = new_account("ctb404"), new_account("ctb404o")
    with batches.finishing(acct):
        fid = batches.upload(acct, [batches.line("f1")]).json["id"]
        ob = oa(acct, "/openai/v1/batches", dict(OK, input_file_id=fid)).json["id"]
        mb = message_batch(acct)["id"]
        for path, body, param in [("/openai/v1/batches/" + ob, None, None),
                                  ("/openai/v1/batches/%s/cancel" % ob, {}, None),
                                  ("/openai/v1/files/" + fid, None, "id"),
                                  ("/openai/v1/files/%s/content" % fid, None, "id"),
                                  ("/openai/v1/batches", dict(OK, input_file_id=fid), "input_file_id")]:
            e = openai_shape(oa(other, path, body), 404, param, "another's %s" % path)
            eq((e["type"], e["code"]), ("invalid_request_error", None), "%s: OpenAI's 404" % path)
        e = openai_shape(oa(other, "/openai/v1/responses/resp_nobody"), 404, None, "a response's")
        eq((e["type"], e["code"]), ("invalid_request_error", None), "the same as a response's")
        for path in ("/anthropic/v1/messages/batches/" + mb, "/anthropic/v1/messages/batches/%s/results" % mb):
            anthropic_shape(an(other, path), 404, "another's %s" % path)
    verify()
