"""test_80_gateway.py: the gateway (DESIGN §12) through nginx -> creditd ->
the fake provider (tests/fake_provider.md), as raw HTTP: every call held,
forwarded as sent (the stream usage option and a lowered cap the only
changes, no creditd key or Creditd-* header upstream), answered in the
provider's shape, and settled to the micro with the provider's usage
(or released when the provider answered an error first). The official
SDKs are test_81_gateway_sdks.py's."""
import http.client
import json
import os
import re
import socket
import tempfile
import time
import urllib.parse

from lib import ENV, api, check, creditctl, eq, key, new_account, sql, verify, wait_until

PRICES = """margin,10500
model,gpt-4o-mini,150000,75000,600000,16384
model,text-embedding-3-small,20000,20000,0,1
model,claude-sonnet-4-5,3000000,300000,15000000,64000
model,claude-haiku-4-5,1000000,100000,5000000,64000
"""


_priced = []


def ensure_prices():
    """The fake provider's models priced, once a run (an import adds to
    the price list)."""
    if _priced:
        return
    import_prices(PRICES)
    _priced.append(1)


def import_prices(prices, *flags):
    """creditctl price import of prices: CSV text, or a LiteLLM-shaped
    catalogue (a dict) or creditd's JSON list (a list), written as JSON."""
    json_doc = isinstance(prices, (dict, list))
    with tempfile.NamedTemporaryFile("w", suffix=".json" if json_doc else ".csv", delete=False) as f:
        f.write(json.dumps(prices) if json_doc else prices)
    try:
        creditctl("price", "import", f.name, *flags)
    finally:
        os.unlink(f.name)


# ---- the fake provider ----

def provider(method, path, body=None, port=None):
    """A control call of the stack's fake provider (or of one on port)."""
    u = urllib.parse.urlsplit(ENV["CREDITD_PROVIDER_URL"] if port is None else "http://127.0.0.1:%d" % port)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    c.request(method, path, body=json.dumps(body) if body is not None else None,
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    data = json.loads(r.read() or b"null")
    c.close()
    return data


def mode(**m):
    provider("POST", "/_mode", dict({"mode": "ok"}, **m))


def reset():
    provider("POST", "/_reset", {})


def received():
    """What the provider was sent since the last reset (checked: nothing a
    gateway must not forward)."""
    got = [r for r in provider("GET", "/_requests") if not r["path"].startswith("/_")]
    for r in got:
        eq(r["violations"], [], "forwarded what no gateway may: %r" % r["headers"])
    return got


# What creditd sends by itself for other files' jobs on a shared stack: the
# Batch API's and background runs' polls (GET of a batch, a file or a
# response), never a call a test makes.
OWN_POLLS = re.compile(r"^/v1/(batches|messages/batches|files|responses)/")


def forwarded():
    """received(), less creditd's own polls of other files' jobs: what a
    refused call must not have sent (a poll of another file's batch may
    land in any test's window)."""
    return [r for r in received() if not (r["method"] == "GET" and OWN_POLLS.match(r["path"]))]


# ---- calls through nginx ----

class Answer:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body
        try:
            self.json = json.loads(body)
        except ValueError:
            self.json = None

    def events(self):
        """The data: payloads of a server-sent-event stream, in order."""
        out = []
        for block in self.body.decode().replace("\r\n", "\n").split("\n\n"):
            for line in block.split("\n"):
                if line.startswith("data:"):
                    out.append(line[5:].strip())
        return out


def call(path, body, auth="guard", headers=None, raw=None):
    ensure_prices()
    u = urllib.parse.urlsplit(ENV["CREDITD_URL"])
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    h = {"Content-Type": "application/json"}
    if auth is not None:
        h["Authorization"] = "Bearer " + key(auth)
    h.update(headers or {})
    c.request("POST" if body is not None or raw is not None else "GET", path,
              body=raw if raw is not None else (json.dumps(body) if body is not None else None), headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return Answer(r.status, {k.lower(): v for k, v in r.getheaders()}, data)


def chat(acct, body, **kw):
    h = dict({"Creditd-Account": acct}, **kw.pop("headers", {}))
    return call("/openai/v1/chat/completions", body, headers=h, **kw)


def messages(acct, body, **kw):
    h = dict({"Creditd-Account": acct, "anthropic-version": "2023-06-01"}, **kw.pop("headers", {}))
    return call("/anthropic/v1/messages", body, headers=h, **kw)


# ---- money ----

def prices():
    ensure_prices()
    r = api("GET", "/v1/models", auth="read")
    return {m["model"]: m for m in r.json["data"]}, r.json["margin_bps"]


def cost(model, inp, cached, out, cache_write=0):
    """DESIGN §3 and §12: ceil(((in-cached-cache_write)*p_in +
    cached*p_cached + cache_write*p_cache_write + out*p_out) * margin /
    10^10), once."""
    p, margin = prices()
    m = p[model]
    raw = ((inp - cached - cache_write) * m["input_micros_per_mtok"] + cached * m["cached_input_micros_per_mtok"] +
           cache_write * m["cache_write_micros_per_mtok"] + out * m["output_micros_per_mtok"]) * margin
    return -(-raw // 10 ** 10)


def reasons(acct):
    """The settle reasons of the account's usage records, oldest first."""
    return [r[0] for r in sql("SELECT COALESCE(u.settle_reason, '-') FROM usage_records u JOIN accounts a "
                              "ON a.id = u.account_id WHERE a.ext_id = '%s' ORDER BY u.id" % acct)]


def state(acct):
    a = api("GET", "/v1/accounts/" + acct, auth="read").json
    return a["balance_micros"], a["reserved_micros"]


def body_chat(model="gpt-4o-mini", text="hello there friend", **extra):
    return dict({"model": model, "messages": [{"role": "user", "content": text}]}, **extra)


# ---- OpenAI Chat Completions ----

def test_a_whole_chat_answer_is_settled_with_the_provider_s_usage_before_it_is_sent():
    reset()
    mode(output_tokens=7)
    acct = new_account("gwchat")
    before, _ = state(acct)
    sent = body_chat(max_completion_tokens=100)
    r = chat(acct, sent)
    eq(r.status, 200, "answered: %r" % r.body[:300])
    usage = r.json["usage"]
    eq(usage["completion_tokens"], 7, "the provider's answer passed on")
    charged = cost("gpt-4o-mini", usage["prompt_tokens"], 0, 7)
    eq(int(r.headers["creditd-charged-micros"]), charged, "charged the provider's usage at the price")
    eq(int(r.headers["creditd-balance-micros"]), before - charged, "the balance after it")
    check(r.headers["creditd-hold-id"].startswith("hold_"), "the hold named: %r" % r.headers)
    eq(state(acct), (before - charged, 0), "balance down by the charge, nothing reserved")
    got = received()
    eq(len(got), 1, "one call upstream")
    eq(got[0]["path"], "/v1/chat/completions", "the provider's path")
    eq(got[0]["json"], sent, "the body forwarded as sent")
    eq(got[0]["headers"]["authorization"], "Bearer sk-fake-openai", "the deployment's key upstream")
    eq(reasons(acct), ["provider_usage"], "settled with the provider's figures")
    verify()


def test_a_chat_stream_passes_each_chunk_and_hides_the_usage_chunk_it_asked_for():
    reset()
    mode(output_tokens=5)
    acct = new_account("gwstream")
    before, _ = state(acct)
    r = chat(acct, body_chat(stream=True))
    eq(r.status, 200, "streamed: %r" % r.body[:300])
    check(r.headers["content-type"].startswith("text/event-stream"), "an event stream: %r" % r.headers)
    data = r.events()
    eq(data[-1], "[DONE]", "the stream's end passed on")
    chunks = [json.loads(d) for d in data[:-1]]
    check(all(c["choices"] for c in chunks), "no usage-only chunk reaches a client that did not ask")
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    eq(text.split(), ["w%d" % i for i in range(5)], "every word came")
    up = received()[0]["json"]
    eq(up["stream_options"], {"include_usage": True}, "creditd asked the provider for usage")
    wait_until(lambda: state(acct)[1] == 0, timeout=5)
    spent = before - state(acct)[0]
    check(spent > 0, "the stream was charged")
    rows = sql("SELECT u.input_tokens, u.output_tokens, u.cost_micros FROM usage_records u JOIN accounts a "
               "ON a.id = u.account_id WHERE a.ext_id = '%s'" % acct)
    eq(len(rows), 1, "one usage record")
    inp, out, c = (int(x) for x in rows[0])
    eq(out, 5, "the provider's output")
    eq(c, cost("gpt-4o-mini", inp, 0, 5), "at the price")
    eq(spent, c, "the balance moved by the charge")
    eq(reasons(acct), ["provider_usage"], "the stream's settle reason")
    verify()


def test_a_client_that_asked_for_usage_gets_the_usage_chunk():
    reset()
    acct = new_account("gwusage")
    r = chat(acct, body_chat(stream=True, stream_options={"include_usage": True}))
    eq(r.status, 200, "streamed")
    chunks = [json.loads(d) for d in r.events()[:-1]]
    last = chunks[-1]
    eq(last["choices"], [], "the usage chunk passed on")
    check(last["usage"]["completion_tokens"] > 0, "with the usage: %r" % last)


# ---- Anthropic Messages ----

def test_anthropic_messages_whole_and_streamed_with_x_api_key():
    reset()
    mode(output_tokens=6)
    acct = new_account("gwanth")
    before, _ = state(acct)
    body = {"model": "claude-haiku-4-5", "max_tokens": 50, "messages": [{"role": "user", "content": "hi there"}]}
    r = messages(acct, body, auth=None, headers={"x-api-key": key("guard")})
    eq(r.status, 200, "answered: %r" % r.body[:300])
    eq(r.json["type"], "message", "Anthropic's answer")
    u = r.json["usage"]
    charged = cost("claude-haiku-4-5", u["input_tokens"], 0, 6)
    eq(int(r.headers["creditd-charged-micros"]), charged, "charged at the price")
    r = messages(acct, dict(body, stream=True))
    eq(r.status, 200, "streamed")
    kinds = [json.loads(d)["type"] for d in r.events()]
    eq(kinds[0], "message_start", "starts as Anthropic's stream does")
    eq(kinds[-1], "message_stop", "and ends so")
    wait_until(lambda: state(acct)[1] == 0, timeout=5)
    up = received()
    eq(up[0]["headers"]["x-api-key"], "sk-ant-fake", "the deployment's key upstream")
    eq(up[0]["headers"]["anthropic-version"], "2023-06-01", "the client's anthropic-version passed on")
    check("authorization" not in up[0]["headers"], "the client's credential never goes upstream")
    spent = before - state(acct)[0]
    check(spent > charged, "both calls charged: %d" % spent)
    verify()


# ---- Responses, embeddings, models ----

def test_responses_stream_and_embeddings_are_charged():
    reset()
    acct = new_account("gwresp")
    before, _ = state(acct)
    r = call("/openai/v1/responses", {"model": "gpt-4o-mini", "input": "say words", "stream": True,
                                      "max_output_tokens": 40}, headers={"Creditd-Account": acct})
    eq(r.status, 200, "streamed: %r" % r.body[:300])
    kinds = [json.loads(d)["type"] for d in r.events()]
    check("response.completed" in kinds, "the completed event passed on: %r" % kinds)
    r = call("/openai/v1/embeddings", {"model": "text-embedding-3-small", "input": ["one two", "three"]},
             headers={"Creditd-Account": acct})
    eq(r.status, 200, "embedded: %r" % r.body[:300])
    tokens = r.json["usage"]["prompt_tokens"]
    eq(int(r.headers["creditd-charged-micros"]), cost("text-embedding-3-small", tokens, 0, 0), "input only")
    wait_until(lambda: state(acct)[1] == 0, timeout=5)
    check(state(acct)[0] < before, "charged")
    verify()


def test_the_models_list_is_the_priced_models_in_openai_s_shape():
    r = call("/openai/v1/models", None, auth="guard")
    eq(r.status, 200, "listed")
    eq(r.json["object"], "list", "OpenAI's list")
    ids = {m["id"] for m in r.json["data"]}
    check({"gpt-4o-mini", "claude-haiku-4-5"} <= ids, "the priced models: %r" % ids)
    check(all(m["object"] == "model" and "created" in m and "owned_by" in m for m in r.json["data"]), "each a model")


def test_one_model_is_answered_by_creditd_in_openai_s_shape():
    """GET /openai/v1/models/{model} (DESIGN §14): a priced model as the
    list shows it; one creditd does not price is OpenAI's own 404
    (model_not_found, param null), nothing forwarded."""
    listed = {m["id"]: m for m in call("/openai/v1/models", None, auth="guard").json["data"]}
    r = call("/openai/v1/models/gpt-4o-mini", None, auth="guard")
    eq(r.status, 200, "found: %r" % r.body[:300])
    eq(r.json, listed["gpt-4o-mini"], "as the list shows it")
    r = call("/openai/v1/models/no-such-model-here", None, auth="guard")
    eq(r.status, 404, "not priced: %r" % r.body[:300])
    eq((r.json["error"]["type"], r.json["error"]["code"], r.json["error"]["param"]),
       ("invalid_request_error", "model_not_found", None), "OpenAI's shape")
    check("no-such-model-here" in r.json["error"]["message"], "naming it: %r" % r.json["error"])
    r = call("/openai/v1/models/" + "x" * 300, None, auth="guard")
    eq((r.status, r.json["error"]["code"]), (404, "model_not_found"), "a name past any model's")
    eq(call("/openai/v1/models/gpt-4o-mini", None, auth=None).status, 401, "a key is needed")


# ---- refusals, in the provider's shape, nothing forwarded ----

def openai_error(r, status, code, param=None):
    eq(r.status, status, "status: %r" % r.body[:300])
    e = r.json["error"]
    check(set(e) >= {"message", "type", "param", "code"}, "OpenAI's error shape: %r" % r.json)
    eq(e["code"], code, "creditd's code")
    if param is not None:
        eq(e["param"], param, "the field named")


def anthropic_error(r, status, typ):
    eq(r.status, status, "status: %r" % r.body[:300])
    eq(r.json["type"], "error", "Anthropic's error shape: %r" % r.json)
    eq(r.json["error"]["type"], typ, "its type for %d" % status)


def test_refusals_are_in_the_provider_s_shape_and_forward_nothing():
    reset()
    acct = new_account("gwref")
    before = state(acct)
    openai_error(chat(acct, body_chat(model="no-such-model")), 400, "invalid_request", "model")
    openai_error(call("/openai/v1/chat/completions", body_chat()), 400, "invalid_request", "Creditd-Account")
    openai_error(chat(acct, body_chat(), auth="crd_" + "0" * 64), 401, "unauthorized")
    openai_error(call("/openai/v1/fine_tuning/jobs", {"model": "x"}), 404, "not_found")
    openai_error(chat(acct, {"model": 5, "messages": []}), 400, "invalid_request", "model")
    openai_error(chat(acct, body_chat(max_completion_tokens=10 ** 7)), 400, "invalid_request",
                 "max_completion_tokens")
    anthropic_error(messages(acct, {"model": "claude-haiku-4-5", "messages": []}), 400, "invalid_request_error")
    anthropic_error(call("/anthropic/v1/complete", {}), 404, "not_found_error")
    anthropic_error(messages(acct, {"model": "claude-haiku-4-5", "max_tokens": 5, "messages": []},
                             auth="crd_" + "1" * 64), 401, "authentication_error")
    eq(received(), [], "nothing forwarded")
    eq(state(acct), before, "nothing held or charged")


def test_not_enough_credit_is_a_402_in_each_shape():
    reset()
    acct = new_account("gwpoor")
    api("POST", "/v1/accounts/%s/debits" % acct, {"amount_micros": state(acct)[0], "reason": "empty it"})
    openai_error(chat(acct, body_chat()), 402, "insufficient_credits")
    eq(chat(acct, body_chat()).json["error"]["type"], "insufficient_quota", "OpenAI's type for a 402")
    anthropic_error(messages(acct, {"model": "claude-haiku-4-5", "max_tokens": 50,
                                    "messages": [{"role": "user", "content": "x"}]}), 402, "billing_error")
    eq(received(), [], "nothing forwarded")


# ---- the provider's errors and cut streams ----

def test_a_provider_error_is_passed_on_and_the_hold_released():
    reset()
    acct = new_account("gwperr")
    before = state(acct)
    mode(mode="error", status=429)
    r = chat(acct, body_chat())
    eq(r.status, 429, "the provider's status")
    eq(r.json["error"]["message"], "fake provider: status 429", "its body")
    check("retry-after" in r.headers, "its retry-after passed on: %r" % r.headers)
    eq(state(acct), before, "nothing charged, nothing left held")
    mode(mode="error", status=500)
    r = chat(acct, body_chat(stream=True))
    eq(r.status, 500, "a stream's error status before any output")
    eq(state(acct), before, "nothing charged")
    eq(reasons(acct), ["provider_error", "provider_error"], "each counted as a provider error, for nothing")
    costs = sql("SELECT u.cost_micros FROM usage_records u JOIN accounts a ON a.id = u.account_id "
                "WHERE a.ext_id = '%s'" % acct)
    eq(costs, [["0"], ["0"]], "of cost 0")
    verify()


def test_a_cut_stream_and_one_without_usage_are_charged_an_estimate():
    reset()
    acct = new_account("gwcut")
    before, _ = state(acct)
    mode(mode="cut", cut_after=3)
    r = chat(acct, body_chat(stream=True, max_completion_tokens=200))
    eq(r.status, 200, "the stream began")
    wait_until(lambda: state(acct)[1] == 0, timeout=5)
    cut = before - state(acct)[0]
    check(cut > 0, "a cut stream is never charged 0")
    hold = cost("gpt-4o-mini", 10 ** 4, 0, 200)
    check(cut < hold, "nor its whole hold: %d" % cut)
    mode(mode="no_usage")
    r = chat(acct, body_chat(stream=True, max_completion_tokens=200))
    eq(r.events()[-1], "[DONE]", "a whole stream")
    wait_until(lambda: state(acct)[1] == 0, timeout=5)
    check(before - state(acct)[0] > cut, "a stream without usage is estimated too")
    eq(reasons(acct), ["estimated", "estimated"], "both estimated")
    verify()


def test_an_account_that_cannot_cover_the_cap_gets_a_lowered_cap():
    reset()
    acct = new_account("gwshrink")
    bal = state(acct)[0]
    # Leave enough for about 1,000 output tokens of claude-sonnet-4-5.
    keep = cost("claude-sonnet-4-5", 200, 0, 1000)
    api("POST", "/v1/accounts/%s/debits" % acct, {"amount_micros": bal - keep, "reason": "shrink"})
    r = messages(acct, {"model": "claude-sonnet-4-5", "max_tokens": 20000,
                        "messages": [{"role": "user", "content": "hi"}]})
    eq(r.status, 200, "answered with a lower cap: %r" % r.body[:300])
    cap = int(r.headers["creditd-output-cap"])
    check(256 <= cap < 20000, "the cap lowered: %d" % cap)
    eq(received()[0]["json"]["max_tokens"], cap, "the provider was sent the lowered cap")
    check(state(acct)[0] >= 0, "never below zero")
    verify()


def test_byok_sends_the_user_s_key_and_charges_nothing():
    reset()
    acct = new_account("gwbyok")
    before = state(acct)
    r = chat(acct, body_chat(), headers={"Creditd-Provider-Key": "sk-fake-openai"})
    eq(r.status, 200, "answered")
    eq(int(r.headers["creditd-charged-micros"]), 0, "nothing charged")
    eq(state(acct), before, "nothing held or charged")
    eq(received()[0]["headers"]["authorization"], "Bearer sk-fake-openai", "the user's key upstream")
    rows = sql("SELECT u.byok FROM usage_records u JOIN accounts a ON a.id = u.account_id WHERE a.ext_id = '%s'"
               % acct)
    eq(rows, [["1"]], "usage recorded, byok")
    eq(reasons(acct), ["provider_usage"], "with its reason")


def test_a_client_that_leaves_mid_stream_is_charged_what_the_provider_reports():
    reset()
    acct = new_account("gwgone")
    before, _ = state(acct)
    mode(output_tokens=30, chunk_interval_ms=50)
    u = urllib.parse.urlsplit(ENV["CREDITD_URL"])
    s = socket.create_connection((u.hostname, u.port), timeout=10)
    body = json.dumps(body_chat(stream=True, max_completion_tokens=100)).encode()
    s.sendall(b"POST /openai/v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Authorization: Bearer " + key("guard").encode() + b"\r\nCreditd-Account: " + acct.encode() +
              b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    first = s.recv(4096)
    check(b"200" in first.split(b"\r\n")[0], "the stream began: %r" % first[:100])
    s.close()
    wait_until(lambda: state(acct)[1] == 0, timeout=10)
    rows = sql("SELECT u.output_tokens FROM usage_records u JOIN accounts a ON a.id = u.account_id "
               "WHERE a.ext_id = '%s'" % acct)
    eq(rows, [["30"]], "drained: the provider's whole figures charged")
    eq(reasons(acct), ["client_gone"], "settled as client_gone")
    check(state(acct)[0] < before, "charged")
    verify()


def test_anthropic_cache_writes_and_reads_are_priced_as_such():
    reset()
    mode(output_tokens=4, cached_tokens=30, cache_creation_tokens=200)
    acct = new_account("gwcache")
    r = messages(acct, {"model": "claude-sonnet-4-5", "max_tokens": 50,
                        "messages": [{"role": "user", "content": " ".join("w%d" % i for i in range(300))}]})
    eq(r.status, 200, "answered: %r" % r.body[:300])
    u = r.json["usage"]
    eq((u["cache_creation_input_tokens"], u["cache_read_input_tokens"]), (200, 30), "the provider's cache figures")
    inp = u["input_tokens"] + 200 + 30
    want = cost("claude-sonnet-4-5", inp, 30, 4, cache_write=200)
    eq(int(r.headers["creditd-charged-micros"]), want, "cache reads at the cached price, writes at the write price")
    rows = sql("SELECT u.input_tokens, u.cached_input_tokens, u.cache_write_input_tokens FROM usage_records u "
               "JOIN accounts a ON a.id = u.account_id WHERE a.ext_id = '%s'" % acct)
    eq(rows, [[str(inp), "30", "200"]], "the usage record")
    verify()


def test_a_body_nested_too_deep_is_refused_and_creditd_lives_on():
    reset()
    acct = new_account("gwdeep")
    deep = '{"a":' * 1500 + '1' + '}' * 1500    # jansson itself parses up to 2048
    raw = ('{"model":"gpt-4o-mini","stream":true,"metadata":%s,"messages":[{"role":"user","content":"x"}]}'
           % deep).encode()
    r = chat(acct, None, raw=raw)
    eq(r.status, 400, "refused: %r" % r.body[:200])
    check("nested" in r.json["error"]["message"], "the error says why: %r" % r.json)
    eq(api("GET", "/healthz", auth=None).status, 200, "creditd still up")
    eq(received(), [], "nothing forwarded")


def test_the_held_cap_is_sent_when_the_body_asks_none():
    reset()
    acct = new_account("gwcap0")
    r = chat(acct, body_chat())
    eq(r.status, 200, "answered")
    p, _ = prices()
    eq(received()[0]["json"]["max_completion_tokens"], p["gpt-4o-mini"]["max_output_tokens"],
       "the model's cap, as held, sent upstream")
    check("creditd-output-cap" not in r.headers, "not a shrink")


def test_the_provider_refusing_creditd_s_key_is_a_502_not_the_client_s_401():
    reset()
    acct = new_account("gwkey401")
    before = state(acct)
    mode(mode="error", status=401)
    r = chat(acct, body_chat())
    eq(r.status, 502, "the deployment's key, not the caller's: %r" % r.body[:200])
    eq(r.json["error"]["code"], "upstream_error", "in OpenAI's shape")
    eq(state(acct), before, "nothing charged")
    mode(mode="error", status=401)
    r = chat(acct, body_chat(), headers={"Creditd-Provider-Key": "sk-wrong"})
    eq(r.status, 401, "a BYOK key refused is the caller's own: passed on")


def event_times(base_url, acct, body, path="/openai/v1/chat/completions", headers=None, with_headers=False):
    """Reads a streamed answer as it arrives: (seconds since the request,
    data payload) of each event; with_headers, and the answer's headers
    (names in lower case)."""
    u = urllib.parse.urlsplit(base_url)
    prefix = u.path.rstrip("/")
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    h = {"Content-Type": "application/json", "Authorization": "Bearer " + key("guard"), "Creditd-Account": acct}
    h.update(headers or {})
    c.request("POST", prefix + path, body=json.dumps(body), headers=h)
    t0 = time.monotonic()
    r = c.getresponse()
    eq(r.status, 200, "streamed: %r" % r.read(300) if r.status != 200 else "")
    out, buf = [], b""
    while True:
        piece = r.read1(65536)
        if not piece:
            break
        buf += piece
        while b"\n\n" in buf:
            ev, buf = buf.split(b"\n\n", 1)
            for line in ev.decode().splitlines():
                if line.startswith("data:"):
                    out.append((time.monotonic() - t0, line[5:].strip()))
    heads = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    return (out, heads) if with_headers else out


def test_each_chunk_reaches_the_client_before_the_provider_sends_the_next():
    # Chunks 400 ms apart: unbuffered, each arrives about 400 ms after the
    # one before; any buffering on the way (nginx, Apache, libfcgi) would
    # bunch them at the end.
    acct = new_account("gwflush")
    for base in (ENV["CREDITD_URL"], ENV["CREDITD_APACHE_URL"]):
        reset()
        mode(output_tokens=4, chunk_interval_ms=400)
        got = event_times(base, acct, body_chat(stream=True, max_completion_tokens=10))
        text = [(t, d) for t, d in got if d != "[DONE]" and json.loads(d)["choices"] and
                json.loads(d)["choices"][0]["delta"].get("content")]
        check(len(text) >= 4, "the words came: %r" % got)
        gaps = [b[0] - a[0] for a, b in zip(text, text[1:])]
        check(all(g > 0.25 for g in gaps), "%s: each chunk came as the provider sent it, gaps %r" % (base, gaps))
        check(text[0][0] < text[-1][0] - 0.8, "%s: the first word long before the last" % base)


def _key_lookups():
    text = api("GET", "/metrics", auth=None).raw.decode()
    m = re.search(r'^creditd_auth_lookups_total (\d+)$', text, re.M)
    return int(m.group(1)) if m else 0


def test_calls_on_connections_of_their_own_look_the_key_up_about_once_a_second():
    # Each gateway call comes on a FastCGI connection of its own (the
    # gateway's upstream keeps none) and the workers take them in turn:
    # the key is looked up in the database about once a second for the
    # process, not once a second for each worker (before, nearly every
    # call at one client paid a SELECT and a COMMIT before its hold).
    reset()
    mode(output_tokens=3)
    acct = new_account("gwkeyonce")
    eq(chat(acct, body_chat(max_completion_tokens=10)).status, 200, "a first call")
    n = 24
    before = _key_lookups()
    started = time.monotonic()
    for i in range(n):
        r = chat(acct, body_chat(max_completion_tokens=10))
        eq(r.status, 200, "call %d answered: %r" % (i, r.body[:200]))
    seconds = time.monotonic() - started
    looked = _key_lookups() - before
    check(looked <= int(seconds) + 2, "%d key look-ups for %d calls in %.1f s: about one a second" % (looked, n, seconds))
