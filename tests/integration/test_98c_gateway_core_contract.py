"""test_98c_gateway_core_contract.py: the gateway's core routes (Chat
Completions, Responses, Embeddings, models; Anthropic Messages and its
token count) checked from outside, as a client app's developer sees
them: plain HTTP through nginx, and the official SDKs (npm openai,
@anthropic-ai/sdk) pointed at creditd, against docs/gateway.md ("Routes",
"Who pays", "The hold and the charge", "What is billed", "What the
gateway forwards", "Refusals, in the provider's shape") and docs/api.md
(GET /v1/holds/{id}). Each success: its hold is the body's input bound
and output cap at the model's price, its charge the fake provider's usage
at the price list (gateway_bill's literals), the answer's headers and the
hold agree. Each refusal: the provider's error shape, the member named,
nothing forwarded, held or charged. The media, batch and background
routes are test_96*'s; the console and creditctl are test_98d's."""
import json
import os
import re
import subprocess

from gateway_bill import BASE, MARGIN_BPS, charge, last_reported
from lib import ENV, api, check, eq, key, new_account, uid, verify
from test_80_gateway import call, chat, ensure_prices, messages, mode, reset, state
from test_80_gateway import received as received_all
from test_81_gateway_sdks import sdk_dir
from test_83_gateway_keys import gw_key
from test_96_gateway_contract import holds_of, openai_shape, untouched, usage_report

# What creditd does by itself for other files' jobs on a shared stack: the
# Batch API's and background runs' polls (GET of a batch, file or
# response), never a call of this file's.
OWN_POLLS = re.compile(r"^/v1/(batches|messages/batches|files|responses)/")


def received():
    """What the provider was sent since the last reset, creditd's own polls
    of other files' jobs left out (test_80_gateway.received checks it)."""
    return [r for r in received_all() if not (r["method"] == "GET" and OWN_POLLS.match(r["path"]))]


USER = [{"role": "user", "content": "hello there friend"}]
ANTHROPIC_MAX_OUT = 64000   # test_80_gateway.PRICES: claude-haiku-4-5's max_output_tokens
MINI_MAX_OUT = 16384        # gpt-4o-mini's


def raw(body):
    return json.dumps(body).encode()


def held_cost(model, body_bytes, out):
    """docs/gateway.md "The hold and the charge": the body's bytes as
    input, the cap as output, uncached (docs/api.md "Costs")."""
    row = BASE[model]
    return charge(body_bytes * row["input"] + out * row["output"])


def usage_cost(model, u):
    """The fake provider's recorded usage (tests/fake_provider.md) at the
    literal row: input less cached and written, cached, written (the
    input price: the test list sets no cache-write price), output."""
    row = BASE[model]
    plain = u["input_tokens"] - u["cached_input_tokens"] - u["cache_write_input_tokens"]
    return charge(plain * row["input"] + u["cached_input_tokens"] * row["cached"] +
                  u["cache_write_input_tokens"] * row["input"] + u["output_tokens"] * row["output"])


def get_hold(r):
    h = r.headers.get("creditd-hold-id")
    check(h and h.startswith("hold_"), "Creditd-Hold-Id: %r" % r.headers)
    g = api("GET", "/v1/holds/" + h, auth="read")
    eq(g.status, 200, "GET /v1/holds/%s: %r" % (h, g))
    return g.json


HOLD_MEMBERS = ["account", "attempts", "charged_micros", "created_at", "held_micros", "hold_id", "member", "model",
                "over_hold", "price_provider", "provider", "resolved", "settle_reason", "settled_at", "status",
                "usage", "usage_unknown"]


def settled_whole(acct, r, model, held_out, what):
    """A whole answer: settled before it was sent, its headers, its hold
    and the balance agree with the provider's usage at the price list."""
    eq(r.status, 200, "%s: answered: %r" % (what, r.body[:400]))
    u = last_reported()
    want = usage_cost(model, u)
    eq(int(r.headers.get("creditd-charged-micros", -1)), want, "%s: Creditd-Charged-Micros" % what)
    h = get_hold(r)
    eq(sorted(h), HOLD_MEMBERS, "%s: GET /v1/holds/{id}'s members (docs/api.md)" % what)
    eq((h["status"], h["charged_micros"], h["model"], h["settle_reason"], h["over_hold"]),
       ("settled", want, model, "provider_usage", False), "%s: the hold settled at the usage" % what)
    eq(h["held_micros"], held_cost(model, held_out[0], held_out[1]), "%s: held at the bound and cap" % what)
    eq(int(r.headers["creditd-balance-micros"]), state(acct)[0], "%s: Creditd-Balance-Micros" % what)
    eq(state(acct)[1], 0, "%s: nothing left reserved" % what)
    return h, u


# DESIGN §12 "Refusals in the provider's shape": Anthropic's type by status.
ANTHROPIC_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
                   403: "permission_error", 404: "not_found_error", 405: "invalid_request_error",
                   413: "request_too_large", 429: "rate_limit_error", 500: "api_error", 502: "api_error",
                   503: "api_error", 504: "api_error"}


def anthropic_err(r, status, what=""):
    """Anthropic's shape, {"type": "error", "error": {"type", "message",
    "code"}} (DESIGN §12; creditd's code kept)."""
    eq(r.status, status, "%s: status: %r" % (what, r.body[:300]))
    check(r.headers.get("content-type", "").startswith("application/json"), "%s: JSON: %r" % (what, r.headers))
    eq(r.json["type"], "error", "%s: Anthropic's error shape: %r" % (what, r.json))
    e = r.json["error"]
    eq(e["type"], ANTHROPIC_TYPES[status], "%s: its type for %d" % (what, status))
    check(isinstance(e.get("message"), str) and e["message"], "%s: a message" % what)
    check(isinstance(e.get("code"), str) and e["code"], "%s: creditd's code: %r" % (what, r.json))
    return e


def refused(acct, r, status, param, what, shape="openai", calls=0):
    """Refused in the provider's shape, the member named, nothing held,
    forwarded or recorded (the account's earlier calls: `calls`)."""
    if shape == "openai":
        e = openai_shape(r, status, param, what)
    else:
        e = anthropic_err(r, status, what)
        check(param in e["message"] or e.get("param") == param, "%s: the member %s named: %r" % (what, param, e))
    eq(received(), [], "%s: nothing forwarded" % what)
    if calls:
        eq((state(acct), holds_of(acct), usage_report(acct)["requests"]), (fresh[acct], [], calls),
           "%s: nothing held, charged or recorded" % what)
    else:
        untouched(acct, fresh[acct], what)
    return e


fresh = {}


def account(prefix):
    reset()
    a = new_account(prefix)
    fresh[a] = state(a)
    return a


# ---- OpenAI Chat Completions, whole ----

def test_chat_with_max_tokens_tools_logprobs_and_format_is_held_at_its_cap_and_charged_its_usage():
    """max_tokens (the older name) is the cap held and sent; a function
    tool, logprobs, response_format, store, metadata, user, seed and
    temperature are free (docs/gateway.md "What the gateway forwards":
    free rows), forwarded unchanged."""
    acct = account("c98chat")
    mode(output_tokens=9)
    body = {"model": "gpt-4o-mini", "messages": USER, "max_tokens": 40, "temperature": 0.2, "seed": 7,
            "logprobs": True, "top_logprobs": 2, "user": "u-1", "store": False, "metadata": {"job": "x"},
            "response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}},
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
            "tool_choice": "auto", "parallel_tool_calls": False}
    b = raw(body)
    r = chat(acct, None, raw=b)
    settled_whole(acct, r, "gpt-4o-mini", (len(b), 40), "chat")
    got = received()
    eq(len(got), 1, "forwarded once")
    eq(got[0]["json"], body, "the body forwarded as sent (its cap included)")
    eq(r.json["usage"]["completion_tokens"], 9, "the provider's usage passed on")
    check(r.headers.get("x-request-id", "").startswith("req_fake"), "x-request-id passed on: %r" % r.headers)
    eq(r.headers.get("x-ratelimit-remaining-requests"), "9999", "x-ratelimit-* passed on")
    verify()


def test_chat_n_choices_are_held_n_times_the_cap():
    """docs/gateway.md: Chat's `n` is held at a bound (a choice's cap, n
    side by side)."""
    acct = account("c98n")
    mode(output_tokens=5)
    b = raw({"model": "gpt-4o-mini", "messages": USER, "max_completion_tokens": 30, "n": 3})
    r = chat(acct, None, raw=b)
    settled_whole(acct, r, "gpt-4o-mini", (len(b), 90), "n=3")


def test_chat_without_a_cap_is_held_and_sent_the_model_s_cap():
    acct = account("c98cap")
    b = raw({"model": "gpt-4o-mini", "messages": USER})
    r = chat(acct, None, raw=b)
    settled_whole(acct, r, "gpt-4o-mini", (len(b), MINI_MAX_OUT), "no cap")
    sent = received()[0]["json"]
    check(sent.get("max_completion_tokens") == MINI_MAX_OUT or sent.get("max_tokens") == MINI_MAX_OUT,
          "the held cap sent: %r" % sent)


def test_chat_refuses_what_its_row_does_not_price_in_openai_s_shape():
    """docs/gateway.md "What is billed": service_tier priority/flex, audio
    output, web_search_options on a row pricing none of them: 400, the
    member named; an unknown member and an unknown tool type: 400 naming
    their path; nothing forwarded, held or recorded."""
    acct = account("c98ref")
    base = {"model": "gpt-4o-mini", "messages": USER, "max_completion_tokens": 10}
    cases = [({"service_tier": "priority"}, "service_tier"), ({"service_tier": "flex"}, "service_tier"),
             ({"web_search_options": {}}, "web_search_options"),
             ({"no_such_member": 1}, "no_such_member"),
             ({"tools": [{"type": "shell"}]}, "tools[0].type")]
    for extra, param in cases:
        refused(acct, chat(acct, dict(base, **extra)), 400, param, "chat %r" % extra)
    parts = [({"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}, "input_audio"),
             ({"type": "file", "file": {"file_id": "file-1"}}, "file_id")]
    for part, param in parts:
        refused(acct, chat(acct, dict(base, messages=[{"role": "user", "content": [part]}])), 400, param,
                "a %s part" % part["type"])
    refused(acct, chat(acct, dict(base, reasoning_effort="turbo")), 400, "reasoning_effort", "an unknown value")
    r = chat(acct, dict(base, modalities=["text", "audio"], audio={"voice": "alloy", "format": "wav"}))
    e = refused(acct, r, 400, "-", "audio output")
    check(e["param"] in ("modalities", "audio"), "audio output refused naming modalities or audio: %r" % e)


def test_chat_default_service_tier_and_reasoning_effort_are_forwarded():
    """`service_tier: "default"` is the standard price (docs/gateway.md
    "What is billed"); `reasoning_effort` is a closed enum the table
    classifies: its values are billed as output tokens."""
    acct = account("c98tier")
    b = raw({"model": "gpt-4o-mini", "messages": USER, "max_completion_tokens": 12, "service_tier": "default"})
    settled_whole(acct, chat(acct, None, raw=b), "gpt-4o-mini", (len(b), 12), "tier default")
    reset()
    b = raw({"model": "gpt-4o-mini", "messages": USER, "max_completion_tokens": 12, "reasoning_effort": "low"})
    settled_whole(acct, chat(acct, None, raw=b), "gpt-4o-mini", (len(b), 12), "reasoning_effort")


# ---- OpenAI Chat Completions, streamed ----

def _stream_chunks(r):
    data = r.events()
    eq(data[-1], "[DONE]", "the stream's end: %r" % data[-3:])
    return [json.loads(d) for d in data[:-1]]


def test_a_stream_with_include_usage_false_hides_the_usage_chunk_and_is_charged():
    """docs/gateway.md "Streams": creditd asks the usage; a client that did
    not ask for it (include_usage false) does not see it. The stream
    carries Creditd-Hold-Id (no charge header: it is settled after); the
    hold is settled at the provider's usage."""
    acct = account("c98s1")
    mode(output_tokens=6)
    b = raw({"model": "gpt-4o-mini", "messages": USER, "stream": True, "max_completion_tokens": 20,
             "stream_options": {"include_usage": False}})
    r = chat(acct, None, raw=b)
    eq(r.status, 200, "streamed: %r" % r.body[:300])
    check(r.headers["content-type"].startswith("text/event-stream"), "an event stream")
    chunks = _stream_chunks(r)
    check(all(c.get("usage") is None and c["choices"] for c in chunks), "no usage chunk passed on: %r" % chunks[-1])
    h = get_hold(r)
    u = last_reported()
    eq((h["status"], h["charged_micros"], h["settle_reason"]), ("settled", usage_cost("gpt-4o-mini", u),
                                                                "provider_usage"), "settled at the usage")
    eq(h["held_micros"], held_cost("gpt-4o-mini", len(b), 20), "held at the bound and cap")
    eq(state(acct), (fresh[acct][0] - h["charged_micros"], 0), "the balance")


def test_a_stream_that_asked_for_usage_sees_one_usage_chunk_matching_the_charge():
    acct = account("c98s2")
    mode(output_tokens=4)
    r = chat(acct, {"model": "gpt-4o-mini", "messages": USER, "stream": True, "max_completion_tokens": 20,
                    "stream_options": {"include_usage": True}})
    chunks = _stream_chunks(r)
    us = [c["usage"] for c in chunks if c.get("usage")]
    eq(len(us), 1, "one usage chunk")
    eq(chunks[-1]["choices"], [], "the usage chunk last, its choices empty (OpenAI's)")
    h = get_hold(r)
    eq(h["usage"]["output_tokens"], us[0]["completion_tokens"], "the hold's usage is the chunk's")
    eq(h["charged_micros"], usage_cost("gpt-4o-mini", last_reported()), "charged it")


# ---- Responses ----

def test_responses_whole_with_a_function_tool_is_held_at_max_output_tokens_and_charged():
    acct = account("c98resp")
    mode(output_tokens=8)
    b = raw({"model": "gpt-4o-mini", "input": "say words", "max_output_tokens": 25, "instructions": "be brief",
             "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}], "store": True})
    r = call("/openai/v1/responses", None, raw=b, headers={"Creditd-Account": acct})
    settled_whole(acct, r, "gpt-4o-mini", (len(b), 25), "responses")
    eq(r.json["object"], "response", "Responses' shape")


def test_responses_refuse_hosted_tools_and_unknown_previous_response_ids():
    """docs/gateway.md: code_interpreter, file_search, shell, mcp are
    refused (param tools[0].type); a previous_response_id the account did
    not receive through creditd is refused naming it; `background` with
    `stream` is test_96's."""
    acct = account("c98respref")
    base = {"model": "gpt-4o-mini", "input": "x", "max_output_tokens": 10}
    for tool in ({"type": "code_interpreter", "container": {"type": "auto"}}, {"type": "shell"},
                 {"type": "mcp", "server_label": "x", "server_url": "https://example.com"}):
        refused(acct, call("/openai/v1/responses", dict(base, tools=[tool]), headers={"Creditd-Account": acct}),
                400, "tools[0].type", "responses tool %s" % tool["type"])
    refused(acct, call("/openai/v1/responses", dict(base, previous_response_id="resp_" + "0" * 40),
                       headers={"Creditd-Account": acct}), 400, "previous_response_id", "previous_response_id")
    for member, value in (("conversation", "conv_1"), ("prompt", {"id": "pmpt_1"})):
        refused(acct, call("/openai/v1/responses", dict(base, **{member: value}), headers={"Creditd-Account": acct}),
                400, member, "stored input: %s" % member)
    refused(acct, call("/openai/v1/responses", dict(base, service_tier="priority"), headers={"Creditd-Account": acct}),
            400, "service_tier", "an unpriced tier")
    refused(acct, call("/openai/v1/responses", dict(base, tools=[{"type": "web_search"}]),
                       headers={"Creditd-Account": acct}), 400, "tools", "an unpriced web search")
    refused(acct, call("/openai/v1/responses", dict(base, web_search_thing=1), headers={"Creditd-Account": acct}),
            400, "web_search_thing", "an unknown member")


def test_a_responses_stream_is_settled_from_response_completed():
    acct = account("c98rs")
    mode(output_tokens=5)
    b = raw({"model": "gpt-4o-mini", "input": "say words", "max_output_tokens": 20, "stream": True})
    r = call("/openai/v1/responses", None, raw=b, headers={"Creditd-Account": acct})
    eq(r.status, 200, "streamed: %r" % r.body[:300])
    types = [json.loads(d).get("type") for d in r.events() if d != "[DONE]"]
    check("response.completed" in types, "response.completed passed on: %r" % types)
    check("creditd-charged-micros" not in r.headers, "a stream carries no charge header")
    h = get_hold(r)
    eq((h["status"], h["charged_micros"]), ("settled", usage_cost("gpt-4o-mini", last_reported())), "settled")
    eq(h["held_micros"], held_cost("gpt-4o-mini", len(b), 20), "held")


# ---- Embeddings ----

def test_embeddings_with_an_array_dimensions_and_base64_are_charged_input_only():
    """docs/gateway.md: embeddings bill input tokens only; the hold's
    output is none."""
    acct = account("c98emb")
    mode(output_tokens=3)
    b = raw({"model": "text-embedding-3-small", "input": ["one two three", "four five"], "dimensions": 64,
             "encoding_format": "base64", "user": "u"})
    r = call("/openai/v1/embeddings", None, raw=b, headers={"Creditd-Account": acct})
    eq(r.status, 200, "embedded: %r" % r.body[:300])
    eq(r.json["object"], "list", "OpenAI's list")
    eq(len(r.json["data"]), 2, "one embedding an input")
    u = last_reported()
    want = charge(u["input_tokens"] * 20000)
    eq(int(r.headers["creditd-charged-micros"]), want, "the input tokens at the input price alone")
    h = get_hold(r)
    eq((h["status"], h["charged_micros"]), ("settled", want), "the hold")
    eq(received()[0]["json"]["dimensions"], 64, "dimensions forwarded")


def test_embeddings_refuse_an_unpriced_model_and_a_token_array_of_another_type():
    acct = account("c98embref")
    refused(acct, call("/openai/v1/embeddings", {"model": "text-embedding-9", "input": "x"},
                       headers={"Creditd-Account": acct}), 400, "model", "an unpriced model")


# ---- models ----

def test_models_list_and_retrieve_are_openai_s_shapes_exactly():
    ensure_prices()
    r = call("/openai/v1/models", None)
    eq(r.status, 200, "listed: %r" % r.body[:200])
    eq(r.json["object"], "list", "a list")
    for m in r.json["data"]:
        eq(sorted(m), ["created", "id", "object", "owned_by"], "a model's members: %r" % m)
        eq(m["object"], "model", "its object")
        check(isinstance(m["created"], int), "created an integer")
    ids = [m["id"] for m in r.json["data"]]
    check("gpt-4o-mini" in ids and "claude-haiku-4-5" in ids, "the priced models: %r" % ids)
    one = call("/openai/v1/models/gpt-4o-mini", None)
    eq(one.status, 200, "retrieved")
    eq(one.json, [m for m in r.json["data"] if m["id"] == "gpt-4o-mini"][0], "as the list shows it")
    e = openai_shape(call("/openai/v1/models/no-such", None), 404, what="an unknown model")
    eq(e["code"], "model_not_found", "OpenAI's code")
    eq(received(), [], "nothing forwarded")


def test_anthropic_models_is_not_a_route_and_is_404_in_anthropic_s_shape():
    """DESIGN §12 names no Anthropic models route: any other path under
    /anthropic/ is a 404 in its shape, nothing forwarded."""
    reset()
    ensure_prices()
    r = call("/anthropic/v1/models", None, headers={"anthropic-version": "2023-06-01"})
    anthropic_err(r, 404, "GET /anthropic/v1/models")
    eq(received(), [], "nothing forwarded")


# ---- Anthropic Messages ----

def test_messages_with_system_tools_stop_sequences_and_thinking_are_charged_their_usage():
    acct = account("c98msg")
    mode(output_tokens=7)
    body = {"model": "claude-haiku-4-5", "max_tokens": 2048, "system": [{"type": "text", "text": "be brief"}],
            "messages": USER, "stop_sequences": ["END"], "metadata": {"user_id": "u1"},
            "thinking": {"type": "enabled", "budget_tokens": 1024},
            "tools": [{"name": "f", "description": "d", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "auto"}}
    b = raw(body)
    r = messages(acct, None, raw=b)
    settled_whole(acct, r, "claude-haiku-4-5", (len(b), 2048), "messages")
    eq(r.json["type"], "message", "Anthropic's shape")
    check(r.headers.get("request-id", "").startswith("req_fake"), "request-id passed on: %r" % r.headers)
    eq(r.headers.get("anthropic-ratelimit-requests-remaining"), "999", "anthropic-ratelimit-* passed on")
    got = received()
    eq(got[0]["json"], body, "forwarded as sent")
    eq(got[0]["headers"].get("x-api-key"), "sk-ant-fake", "the deployment's key upstream")


def test_messages_cache_control_5m_is_charged_writes_and_reads():
    """docs/gateway.md "What is billed": cache reads at the cached price,
    5-minute writes at the cache-write price (the input price on this
    list)."""
    acct = account("c98cache")
    mode(output_tokens=5, cached_tokens=3, cache_creation_tokens=2)
    b = raw({"model": "claude-haiku-4-5", "max_tokens": 30,
             "system": [{"type": "text", "text": "a long system prompt", "cache_control": {"type": "ephemeral"}}],
             "messages": USER})
    r = messages(acct, None, raw=b)
    h, u = settled_whole(acct, r, "claude-haiku-4-5", (len(b), 30), "cache_control")
    eq((u["cached_input_tokens"], u["cache_write_input_tokens"]), (3, 2), "the provider reported both")
    eq((h["usage"]["cached_input_tokens"], h["usage"]["cache_write_input_tokens"]), (3, 2), "the hold's usage")
    reset()
    five = {"type": "ephemeral", "ttl": "5m"}
    r = messages(acct, {"model": "claude-haiku-4-5", "max_tokens": 10,
                        "tools": [{"name": "f", "input_schema": {"type": "object"}, "cache_control": five}],
                        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": five}]}]})
    eq(r.status, 200, "5-minute writes named on a tool and a part: %r" % r.body[:300])


def test_messages_refusals_in_anthropic_s_shape_with_creditd_s_code():
    """1-hour cache writes, speed fast, inference_geo, an unknown beta on a
    row pricing none: 400 invalid_request_error naming the member, nothing
    forwarded (docs/gateway.md "What is billed", "Multipliers")."""
    acct = account("c98mref")
    base = {"model": "claude-haiku-4-5", "max_tokens": 20, "messages": USER}
    one_h = dict(base, system=[{"type": "text", "text": "x", "cache_control": {"type": "ephemeral", "ttl": "1h"}}])
    refused(acct, messages(acct, one_h), 400, "cache_control", "1h cache", shape="anthropic")
    refused(acct, messages(acct, dict(base, speed="fast")), 400, "speed", "speed fast", shape="anthropic")
    refused(acct, messages(acct, dict(base, inference_geo="us")), 400, "inference_geo", "geo", shape="anthropic")
    refused(acct, messages(acct, base, headers={"anthropic-beta": "no-such-beta-2099-01-01"}), 400,
            "anthropic-beta", "an unknown beta", shape="anthropic")
    refused(acct, messages(acct, dict(base, tools=[{"type": "code_execution_20250522", "name": "code_execution"}])),
            400, "tools[0].type", "code execution", shape="anthropic")
    refused(acct, messages(acct, dict(base, mcp_servers=[])), 400, "mcp_servers", "MCP servers", shape="anthropic")
    refused(acct, messages(acct, dict(base, container="c1")), 400, "container", "a container", shape="anthropic")
    doc = {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}}
    refused(acct, messages(acct, dict(base, messages=[{"role": "user", "content": [doc]}])), 400, "source",
            "a document by URL", shape="anthropic")


def test_anthropic_errors_carry_creditd_s_code_for_every_refusal():
    """DESIGN §12: {"type": "error", "error": {"type", "message", "code"}},
    the type by status: an unpriced model, no key, a read key, a GET on a
    POST route, a body that is not JSON."""
    acct = account("c98acode")
    h = {"Creditd-Account": acct, "anthropic-version": "2023-06-01"}
    body = {"model": "claude-haiku-4-5", "max_tokens": 5, "messages": USER}
    eq(anthropic_err(messages(acct, dict(body, model="no-such-model")), 400, "unpriced")["code"], "invalid_request",
       "the code")
    eq(anthropic_err(call("/anthropic/v1/messages", body, auth=None, headers=h), 401, "no key")["code"],
       "unauthorized", "the code")
    eq(anthropic_err(call("/anthropic/v1/messages", body, auth="read", headers=h), 403, "a read key")["code"],
       "forbidden", "the code")
    anthropic_err(call("/anthropic/v1/messages", None, headers=h), 405, "GET on messages")
    anthropic_err(call("/anthropic/v1/messages", None, raw=b"{nope", headers=h), 400, "not JSON")
    eq(received(), [], "nothing forwarded")
    untouched(acct, fresh[acct], "refusals")


def test_openai_refusals_without_a_key_with_a_read_key_a_get_and_bad_json():
    acct = account("c98ocode")
    h = {"Creditd-Account": acct}
    body = {"model": "gpt-4o-mini", "messages": USER}
    eq(openai_shape(call("/openai/v1/chat/completions", body, auth=None, headers=h), 401, what="no key")["type"],
       "authentication_error", "its type")
    e = openai_shape(call("/openai/v1/chat/completions", body, auth="read", headers=h), 403, what="a read key")
    eq((e["type"], e["code"]), ("permission_error", "forbidden"), "its type and code")
    e = openai_shape(call("/openai/v1/chat/completions", None, headers=h), 405, what="GET on chat")
    eq(e["code"], "method_not_allowed", "its code")
    openai_shape(call("/openai/v1/chat/completions", None, raw=b"{nope", headers=h), 400, what="not JSON")
    eq(received(), [], "nothing forwarded")
    untouched(acct, fresh[acct], "refusals")


def test_anthropic_sampling_members_the_pinned_sdk_lacks_are_refused():
    """docs/gateway.md "What the gateway forwards": the tables are held to
    the pinned SDKs' request types, and @anthropic-ai/sdk 1.14.0's
    MessageCreateParams names no temperature, top_p or top_k; a member the
    types do not name is refused naming it (an operator may free it with
    free_fields), nothing forwarded."""
    acct = account("c98temp")
    for k, v in (("temperature", 0.5), ("top_p", 0.9), ("top_k", 5)):
        r = messages(acct, {"model": "claude-haiku-4-5", "max_tokens": 5, "messages": USER, k: v})
        anthropic_err(r, 400, "%s refused" % k)
        check(k in r.json["error"]["message"], "names %s: %r" % (k, r.json["error"]))
    eq(received(), [], "nothing forwarded")


def test_messages_without_max_tokens_is_refused_as_anthropic_does():
    acct = account("c98mnomax")
    anthropic_err(messages(acct, {"model": "claude-haiku-4-5", "messages": USER}), 400, "no max_tokens")
    eq(received(), [], "nothing forwarded")
    untouched(acct, fresh[acct], "no max_tokens")


def test_a_messages_stream_is_settled_with_the_last_output_tokens():
    acct = account("c98ms")
    mode(output_tokens=6)
    b = raw({"model": "claude-haiku-4-5", "max_tokens": 50, "stream": True, "messages": USER})
    r = messages(acct, None, raw=b)
    eq(r.status, 200, "streamed: %r" % r.body[:300])
    types = [json.loads(d).get("type") for d in r.events()]
    eq((types[0], types[-1]), ("message_start", "message_stop"), "Anthropic's events: %r" % types)
    h = get_hold(r)
    eq((h["status"], h["charged_micros"], h["usage"]["output_tokens"]),
       ("settled", usage_cost("claude-haiku-4-5", last_reported()), 6), "settled at the last output_tokens")
    eq(h["held_micros"], held_cost("claude-haiku-4-5", len(b), 50), "held")


def test_count_tokens_is_free_and_holds_nothing():
    acct = account("c98count")
    r = call("/anthropic/v1/messages/count_tokens", {"model": "claude-haiku-4-5", "messages": USER},
             headers={"Creditd-Account": acct, "anthropic-version": "2023-06-01"})
    eq(r.status, 200, "counted: %r" % r.body[:300])
    eq(sorted(r.json), ["input_tokens"], "Anthropic's answer")
    eq(state(acct), fresh[acct], "nothing held or charged")
    check("creditd-charged-micros" not in r.headers, "no charge: %r" % r.headers)


# ---- who pays, shrink, BYOK ----

def test_an_unbound_key_without_creditd_account_is_refused_in_each_shape():
    reset()
    ensure_prices()
    e = openai_shape(call("/openai/v1/chat/completions", {"model": "gpt-4o-mini", "messages": USER}), 400,
                     "Creditd-Account", "no account")
    eq(e["type"], "invalid_request_error", "its type")
    r = call("/anthropic/v1/messages", {"model": "claude-haiku-4-5", "max_tokens": 5, "messages": USER},
             headers={"anthropic-version": "2023-06-01"})
    anthropic_err(r, 400, "no account, Anthropic")
    r = call("/openai/v1/chat/completions", {"model": "gpt-4o-mini", "messages": USER},
             headers={"Creditd-Account": "no-such-" + uid("")})
    openai_shape(r, 404, what="an account that does not exist")
    eq(received(), [], "nothing forwarded")


def test_x_api_key_works_on_openai_routes_and_bearer_on_anthropic_routes():
    """DESIGN §12 "Who pays": the key from Authorization: Bearer or
    x-api-key on either provider's routes."""
    acct = account("c98xkey")
    r = call("/openai/v1/chat/completions", {"model": "gpt-4o-mini", "messages": USER, "max_tokens": 5},
             auth=None, headers={"x-api-key": key("guard"), "Creditd-Account": acct})
    eq(r.status, 200, "x-api-key on OpenAI's route: %r" % r.body[:300])
    r = call("/anthropic/v1/messages", {"model": "claude-haiku-4-5", "max_tokens": 5, "messages": USER},
             headers={"Creditd-Account": acct, "anthropic-version": "2023-06-01"})
    eq(r.status, 200, "Bearer on Anthropic's route: %r" % r.body[:300])


def test_gateway_key_member_rules_in_the_provider_s_shape():
    """docs/gateway.md "Gateway keys": a whole-account key naming a member,
    a member key naming another member: 403 param Creditd-Member; naming
    another account: 404; the same account or member: no change. A member
    key's answers carry no Creditd-Balance-Micros."""
    reset()
    acct = new_account("c98gk", kind="workspace")
    fresh[acct] = state(acct)
    eq(api("POST", "/v1/accounts/%s/members" % acct, {"member": "bob", "monthly_cap_micros": 10 ** 9}).status, 201,
       "bob a member")
    other = new_account("c98gko")
    whole = gw_key(acct)["key"]
    bob = gw_key(acct, member="bob")["key"]
    body = {"model": "gpt-4o-mini", "messages": USER, "max_tokens": 5}

    def ask(secret, **h):
        return call("/openai/v1/chat/completions", body, auth=None,
                    headers=dict({"Authorization": "Bearer " + secret}, **h))
    refused(acct, ask(whole, **{"Creditd-Member": "bob"}), 403, "Creditd-Member", "whole key naming a member")
    refused(acct, ask(bob, **{"Creditd-Member": "alice"}), 403, "Creditd-Member", "bob's key naming alice")
    refused(acct, ask(whole, **{"Creditd-Account": other}), 404, "-", "another account")
    r = ask(bob, **{"Creditd-Member": "bob", "Creditd-Account": acct})
    eq(r.status, 200, "the same member and account: %r" % r.body[:300])
    check("creditd-balance-micros" not in r.headers, "a member's answer hides the balance: %r" % r.headers)
    check("creditd-charged-micros" in r.headers, "but says its charge")
    eq(get_hold(r)["member"], "bob", "charged as bob")
    reset()
    r = ask(whole)
    eq(r.status, 200, "the whole-account key: %r" % r.body[:300])
    check("creditd-balance-micros" in r.headers, "the balance shown")


def test_shrink_lowers_the_sent_cap_and_says_so():
    """DESIGN §12 "Shrink": an account that cannot cover the asked output
    but can cover min_output_tokens (256) has the cap lowered, the
    Creditd-Output-Cap header says it, the provider is sent it."""
    acct = account("c98shrink")
    bal = state(acct)[0]
    # leave room for ~1000 output tokens of claude-haiku-4-5 (5 micros a token before the margin)
    api("POST", "/v1/accounts/%s/debits" % acct, {"amount_micros": bal - 6000, "reason": "leave a little"})
    fresh[acct] = state(acct)
    r = messages(acct, {"model": "claude-haiku-4-5", "max_tokens": 50000, "messages": USER})
    eq(r.status, 200, "answered, shrunk: %r" % r.body[:300])
    cap = int(r.headers["creditd-output-cap"])
    check(256 <= cap < 50000, "a lowered cap: %d" % cap)
    eq(received()[0]["json"]["max_tokens"], cap, "the provider sent the lowered cap")
    check(get_hold(r)["held_micros"] <= 6000, "held within the balance")


def test_byok_on_anthropic_sends_the_caller_s_key_and_charges_nothing():
    acct = account("c98byok")
    r = messages(acct, {"model": "claude-haiku-4-5", "max_tokens": 10, "messages": USER},
                 headers={"Creditd-Provider-Key": "sk-ant-fake"})
    eq(r.status, 200, "answered: %r" % r.body[:300])
    eq(received()[0]["headers"].get("x-api-key"), "sk-ant-fake", "the caller's key upstream")
    eq(state(acct), fresh[acct], "nothing held or charged")


def test_402_in_each_shape_holds_nothing_and_names_the_figures():
    acct = account("c98poor")
    api("POST", "/v1/accounts/%s/debits" % acct, {"amount_micros": state(acct)[0], "reason": "empty"})
    fresh[acct] = state(acct)
    e = refused(acct, chat(acct, {"model": "gpt-4o-mini", "messages": USER, "max_tokens": 300}), 402, "-", "402")
    eq((e["type"], e["code"]), ("insufficient_quota", "insufficient_credits"), "OpenAI's type, creditd's code")
    check(isinstance(e["available_micros"], int) and e["required_micros"] > e["available_micros"], "figures: %r" % e)
    r = messages(acct, {"model": "claude-haiku-4-5", "max_tokens": 300, "messages": USER})
    refused(acct, r, 402, "", "402 anthropic", shape="anthropic")


def test_unknown_paths_are_404_in_each_shape():
    reset()
    ensure_prices()
    openai_shape(call("/openai/v1/completions", {"model": "gpt-4o-mini", "prompt": "x"}), 404, what="legacy")
    openai_shape(call("/openai/v1/assistants", None), 404, what="assistants")
    anthropic_err(call("/anthropic/v1/complete", {"model": "x"}), 404, "complete")
    for path in ("/openai/", "/openai/v2/chat/completions", "/openai/v1/chat/completions/",
                 "/openai/v1/chat/completions/extra", "/openai/v1/fine_tuning/jobs", "/openai/v1/uploads"):
        openai_shape(call(path, {"model": "gpt-4o-mini"}), 404, what=path)
    for path in ("/anthropic/", "/anthropic/v1/messages/", "/anthropic/v1/files", "/anthropic/v1/skills",
                 "/anthropic/v1/messages/count_tokens/x"):
        anthropic_err(call(path, {"model": "claude-haiku-4-5"}), 404, path)
    eq(received(), [], "nothing forwarded")


# ---- the SDKs ----

SDK_JS = r"""
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
const base = process.env.BASE;
const headers = { "Creditd-Account": process.env.ACCOUNT };
const openai = new OpenAI({ baseURL: base + "/openai/v1", apiKey: process.env.KEY, defaultHeaders: headers, maxRetries: 0 });
const anthropic = new Anthropic({ baseURL: base + "/anthropic", apiKey: process.env.KEY, defaultHeaders: headers, maxRetries: 0 });
const user = [{ role: "user", content: "hello from the sdk" }];
async function caught(fn) {
  try { await fn(); return { thrown: false }; } catch (e) {
    return { thrown: true, status: e.status ?? null, name: e.constructor.name, type: e.type ?? e.error?.error?.type ?? null,
             param: e.param ?? null, code: e.code ?? null };
  }
}
const cases = {
  async chat_n_tools() {
    const { data, response } = await openai.chat.completions.create({ model: "gpt-4o-mini", messages: user,
      max_completion_tokens: 10, n: 2, logprobs: true, top_logprobs: 1,
      tools: [{ type: "function", function: { name: "f", parameters: { type: "object" } } }] }).withResponse();
    return { choices: data.choices.length, usage: data.usage, hold: response.headers.get("creditd-hold-id"),
             charged: response.headers.get("creditd-charged-micros") };
  },
  async chat_stream_usage() {
    const stream = await openai.chat.completions.create({ model: "gpt-4o-mini", messages: user, stream: true,
      max_completion_tokens: 10, stream_options: { include_usage: true } });
    let usage = null, text = "";
    for await (const c of stream) { if (c.usage) usage = c.usage; text += c.choices[0]?.delta?.content ?? ""; }
    return { usage, text };
  },
  async embeddings_default() {
    const r = await openai.embeddings.create({ model: "text-embedding-3-small", input: ["a b", "c d e"], dimensions: 8 });
    return { n: r.data.length, dims: r.data[0].embedding.length, usage: r.usage };
  },
  async refusals() {
    return {
      priority: await caught(() => openai.chat.completions.create({ model: "gpt-4o-mini", messages: user, service_tier: "priority" })),
      search: await caught(() => openai.chat.completions.create({ model: "gpt-4o-mini", messages: user, web_search_options: {} })),
      speed: await caught(() => anthropic.messages.create({ model: "claude-haiku-4-5", max_tokens: 5, messages: user, speed: "fast" })),
      models: await caught(() => anthropic.models.list()),
    };
  },
  async anthropic_thinking_stream() {
    const stream = anthropic.messages.stream({ model: "claude-haiku-4-5", max_tokens: 2000, messages: user,
      thinking: { type: "enabled", budget_tokens: 1024 } });
    const final = await stream.finalMessage();
    return { usage: final.usage, stop: final.stop_reason };
  },
  async count_tokens() {
    const r = await anthropic.messages.countTokens({ model: "claude-haiku-4-5", messages: user, system: "be brief" });
    return { input_tokens: r.input_tokens };
  },
};
cases[process.argv[2]]().then((r) => console.log(JSON.stringify(r)),
  (e) => { console.log(JSON.stringify({ failed: String(e), status: e.status ?? null })); process.exit(1); });
"""


def js(case, acct):
    ensure_prices()
    d = sdk_dir()
    path = os.path.join(d, "contract_98c.mjs")
    with open(path, "w") as f:
        f.write(SDK_JS)
    e = dict(os.environ, BASE=ENV["CREDITD_URL"], KEY=key("guard"), ACCOUNT=acct)
    p = subprocess.run(["node", path, case], capture_output=True, text=True, timeout=120, env=e, cwd=d)
    check(p.stdout.strip(), "%s printed nothing: %s" % (case, p.stderr[-1500:]))
    out = json.loads(p.stdout.strip().splitlines()[-1])
    check("failed" not in out, "%s failed: %r %s" % (case, out, p.stderr[-1500:]))
    return out


def test_the_openai_sdk_n_tools_stream_usage_and_embeddings():
    acct = account("c98sdk")
    mode(output_tokens=4)
    o = js("chat_n_tools", acct)
    check(o["choices"] >= 1 and o["usage"]["completion_tokens"] > 0, "answered: %r" % o)
    eq(int(o["charged"]), usage_cost("gpt-4o-mini", last_reported()), "charged the usage")
    reset()
    s = js("chat_stream_usage", acct)
    check(s["usage"] and s["usage"]["completion_tokens"] > 0, "the usage chunk reached the SDK: %r" % s)
    reset()
    e = js("embeddings_default", acct)
    eq((e["n"], e["dims"]), (2, 8), "the SDK decoded its (base64) embeddings: %r" % e)
    eq(state(acct)[1], 0, "nothing left reserved")
    verify()


def test_the_sdks_raise_their_own_classes_for_refusals():
    acct = account("c98sdkref")
    o = js("refusals", acct)
    for k in ("priority", "search"):
        eq((o[k]["status"], o[k]["name"], o[k]["type"]), (400, "BadRequestError", "invalid_request_error"),
           "%s: OpenAI's BadRequestError: %r" % (k, o[k]))
    eq(o["priority"]["param"], "service_tier", "the member named")
    eq(o["search"]["param"], "web_search_options", "the member named")
    eq((o["speed"]["status"], o["speed"]["name"]), (400, "BadRequestError"), "Anthropic's class: %r" % o["speed"])
    eq((o["models"]["status"], o["models"]["name"]), (404, "NotFoundError"), "no models route: %r" % o["models"])
    eq(received(), [], "nothing forwarded")
    eq(state(acct), fresh[acct], "nothing held")


def test_the_anthropic_sdk_thinking_stream_and_count_tokens():
    acct = account("c98sdka")
    mode(output_tokens=5)
    o = js("anthropic_thinking_stream", acct)
    eq(o["usage"]["output_tokens"], 5, "the usage the SDK saw")
    eq(state(acct)[0], fresh[acct][0] - usage_cost("claude-haiku-4-5", last_reported()), "charged it")
    reset()
    before = state(acct)
    c = js("count_tokens", acct)
    check(c["input_tokens"] > 0, "counted: %r" % c)
    eq(state(acct), before, "count_tokens free")


def test_a_streamed_n_and_both_cap_names_are_held_at_the_worst_case():
    """Chat's `n` streamed is held as whole (n caps); a body naming both
    `max_tokens` and `max_completion_tokens` is held at the larger (the
    provider may honour either): the hold never below what it may bill."""
    acct = account("c98n2")
    b = raw({"model": "gpt-4o-mini", "messages": USER, "max_completion_tokens": 30, "n": 2, "stream": True})
    r = chat(acct, None, raw=b)
    eq(r.status, 200, "streamed: %r" % r.body[:300])
    eq(get_hold(r)["held_micros"], held_cost("gpt-4o-mini", len(b), 60), "two choices' caps held")
    for small, large in ((5, 20), (20, 5)):
        reset()
        b = raw({"model": "gpt-4o-mini", "messages": USER, "max_tokens": small, "max_completion_tokens": large})
        r = chat(acct, None, raw=b)
        eq(r.status, 200, "answered: %r" % r.body[:300])
        h = get_hold(r)
        eq(h["held_micros"], held_cost("gpt-4o-mini", len(b), 20), "held at the larger cap (%d, %d)" % (small, large))
        eq(h["over_hold"], False, "within its hold")
