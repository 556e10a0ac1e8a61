"""test_98c_gateway_core_contract_more.py: more of the gateway's core
routes from outside (test_98c_gateway_core_contract.py says how): the
account's limits and suspension refused in each provider's shape
(docs/api.md "Errors", DESIGN §12 "Refusals in the provider's shape"),
what a member-bound gateway key's refusals show, GET /v1/holds/{id} by
a gateway key, stored context by previous_response_id, an image part's
bound, the caps above a model's, and the beta headers."""
import http.client
import json
import re
import shutil
import urllib.parse

import stack
from gateway_bill import charge
from lib import ENV, api, check, creditctl, eq, new_account, uid, wait_until
from test_80_gateway import call, chat, ensure_prices, messages, mode, provider, reset, state
from test_83_gateway_keys import gw_key
from test_96_gateway_contract import untouched
from test_98c_gateway_core_contract import (USER, account, anthropic_err, fresh, get_hold, held_cost, raw, received,
                                            refused)

OA = {"model": "gpt-4o-mini", "messages": USER, "max_tokens": 5}
AN = {"model": "claude-haiku-4-5", "max_tokens": 5, "messages": USER}


def limited(prefix, patch, kind="user"):
    acct = account(prefix)
    if kind == "workspace":
        reset()
        acct = new_account(prefix, kind="workspace")
        eq(api("POST", "/v1/accounts/%s/members" % acct, {"member": "bob", "monthly_cap_micros": 10 ** 9}).status,
           201, "bob a member")
    eq(api("PATCH", "/v1/accounts/" + acct, patch).status, 200, "patched %r" % patch)
    fresh[acct] = state(acct)
    return acct


def shape_of(e, what):
    for k in ("message", "type", "param", "code"):
        check(k in e, "%s: OpenAI's member %s: %r" % (what, k, e))


def test_a_suspended_account_is_403_in_each_shape_and_nothing_is_forwarded():
    acct = limited("c98susp", {"status": "suspended"})
    r = chat(acct, OA)
    eq(r.status, 403, "suspended: %r" % r.body[:300])
    e = r.json["error"]
    shape_of(e, "suspended")
    eq((e["type"], e["code"]), ("permission_error", "account_suspended"), "docs/api.md's type and code")
    e = anthropic_err(messages(acct, AN), 403, "suspended, Anthropic")
    eq(e["code"], "account_suspended", "creditd's code kept")
    anthropic_err(call("/anthropic/v1/messages/count_tokens", {"model": "claude-haiku-4-5", "messages": USER},
                       headers={"Creditd-Account": acct, "anthropic-version": "2023-06-01"}), 403,
                  "count_tokens of a suspended account")
    eq(received(), [], "nothing forwarded")
    untouched(acct, fresh[acct], "suspended")


def test_daily_and_monthly_limits_are_429_insufficient_quota_on_openai_and_rate_limit_error_on_anthropic():
    for patch, code in (({"daily_limit_micros": 1}, "daily_limit_reached"),
                        ({"monthly_limit_micros": 1}, "billing_hard_limit_reached")):
        acct = limited("c98lim", patch)
        r = chat(acct, OA)
        eq(r.status, 429, "%s: %r" % (code, r.body[:300]))
        e = r.json["error"]
        shape_of(e, code)
        eq((e["type"], e["code"]), ("insufficient_quota", code), "docs/api.md's type and code")
        e = anthropic_err(messages(acct, AN), 429, code + ", Anthropic")
        eq(e["code"], code, "creditd's code kept")
        eq(received(), [], "nothing forwarded")
        untouched(acct, fresh[acct], code)


def test_requests_per_minute_is_429_rate_limit_error_with_retry_after_in_each_shape():
    acct = limited("c98rpm", {"requests_per_minute": 1})
    eq(chat(acct, OA).status, 200, "the minute's one call")
    reset()
    r = chat(acct, OA)
    eq(r.status, 429, "the second: %r" % r.body[:300])
    e = r.json["error"]
    eq((e["type"], e["code"]), ("rate_limit_error", "rate_limit_exceeded"), "docs/api.md's type and code")
    secs = int(r.headers["retry-after"])
    check(1 <= secs <= 60, "Retry-After in seconds: %d" % secs)
    eq(e.get("retry_after_seconds"), secs, "the body says it too (docs/api.md)")
    r = messages(acct, AN)
    e = anthropic_err(r, 429, "rpm, Anthropic")
    check("retry-after" in r.headers, "Retry-After on Anthropic's too")
    eq(received(), [], "nothing forwarded")


def test_a_member_key_s_refusals_show_no_figures_of_the_workspace():
    for patch in ({"status": "suspended"}, {"daily_limit_micros": 1}, {"monthly_limit_micros": 1}):
        ws = limited("c98mfig", patch, kind="workspace")
        bob = gw_key(ws, member="bob")["key"]
        for path, body in (("/openai/v1/chat/completions", OA), ("/anthropic/v1/messages", AN)):
            r = call(path, body, auth=None, headers={"Authorization": "Bearer " + bob,
                                                     "anthropic-version": "2023-06-01"})
            check(r.status in (403, 429), "refused: %r" % r.body[:300])
            e = r.json["error"]
            check("available_micros" not in e and "required_micros" not in e,
                  "%r on %s: no figures of the workspace: %r" % (patch, path, e))
        if patch.get("status") == "suspended":	# a free route's refusal too (count_tokens)
            r = call("/anthropic/v1/messages/count_tokens", {"model": AN["model"], "messages": AN["messages"]},
                     auth=None, headers={"Authorization": "Bearer " + bob, "anthropic-version": "2023-06-01"})
            eq(r.status, 403, "count_tokens refused: %r" % r.body[:300])
            check("available_micros" not in r.json["error"], "count_tokens: no figures: %r" % r.json)


def test_a_member_key_s_402_shows_no_figures_and_its_cap_429_names_the_member():
    ws = limited("c98m402", {}, kind="workspace")
    bob = gw_key(ws, member="bob")["key"]
    api("POST", "/v1/accounts/%s/debits" % ws, {"amount_micros": state(ws)[0], "reason": "empty"})
    fresh[ws] = state(ws)
    r = call("/openai/v1/chat/completions", OA, auth=None, headers={"Authorization": "Bearer " + bob})
    eq(r.status, 402, "bob's 402: %r" % r.body[:300])
    e = r.json["error"]
    eq(sorted(e), ["code", "message", "param", "type"], "OpenAI's four members, no figures of the pool's: %r" % e)
    eq((e["type"], e["code"]), ("insufficient_quota", "insufficient_credits"), "its type and code")
    ws = limited("c98mcap", {}, kind="workspace")
    eq(api("POST", "/v1/accounts/%s/members" % ws, {"member": "carl", "monthly_cap_micros": 1}).status, 201, "carl")
    carl = gw_key(ws, member="carl")["key"]
    r = call("/openai/v1/chat/completions", OA, auth=None, headers={"Authorization": "Bearer " + carl})
    eq(r.status, 429, "carl's cap: %r" % r.body[:300])
    eq((r.json["error"]["type"], r.json["error"]["code"]), ("insufficient_quota", "member_cap_reached"), "its code")
    eq(received(), [], "nothing forwarded")


def test_a_gateway_key_reads_its_own_account_s_holds_only():
    """docs/api.md: GET /v1/holds/{id} (guard, read, app or gateway key); a
    bound key sees its own account's holds only, any other is 404."""
    acct = account("c98gkh")
    other = new_account("c98gkh2")
    mine = gw_key(acct)["key"]
    theirs = gw_key(other)["key"]
    r = call("/openai/v1/chat/completions", OA, auth=None, headers={"Authorization": "Bearer " + mine})
    eq(r.status, 200, "called: %r" % r.body[:300])
    hid = r.headers["creditd-hold-id"]
    g = api("GET", "/v1/holds/" + hid, auth=mine)
    eq(g.status, 200, "its own hold: %r" % g)
    eq((g.json["account"], g.json["provider"], g.json["attempts"], g.json["status"]),
       (acct, "openai", 1, "settled"), "the hold's account, provider and attempts")
    g = api("GET", "/v1/holds/" + hid, auth=theirs)
    eq((g.status, g.json["error"]["code"]), (404, "not_found"), "another account's hold: %r" % g)


def test_previous_response_id_is_held_at_max_input_tokens_or_refused_naming_it():
    """docs/gateway.md: an id the account received through creditd is held
    at the model's max_input_tokens, and refused when the row gives none;
    another account's is refused; nothing forwarded either way."""
    acct = account("c98prev")
    r = call("/openai/v1/responses", {"model": "gpt-4o-mini", "input": "hi", "max_output_tokens": 16},
             headers={"Creditd-Account": acct})
    eq(r.status, 200, "a first response: %r" % r.body[:300])
    rid = r.json["id"]
    reset()
    fresh[acct] = state(acct)
    later = {"model": "gpt-4o-mini", "input": "more", "max_output_tokens": 16, "previous_response_id": rid}
    refused(acct, call("/openai/v1/responses", later, headers={"Creditd-Account": acct}), 400,
            "previous_response_id", "gpt-4o-mini's row gives no max_input_tokens", calls=1)
    other = account("c98prev2")
    refused(other, call("/openai/v1/responses", later, headers={"Creditd-Account": other}), 400,
            "previous_response_id", "another account's response")


def test_an_image_part_is_held_at_6400_tokens_not_its_bytes():
    """docs/gateway.md "The hold and the charge": each image part counts
    6,400 tokens instead of its bytes."""
    acct = account("c98img")
    url = "data:image/png;base64," + "A" * 40000
    b = raw({"model": "gpt-4o-mini", "max_tokens": 10, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "what"}, {"type": "image_url", "image_url": {"url": url}}]}]})
    r = chat(acct, None, raw=b)
    eq(r.status, 200, "answered: %r" % r.body[:300])
    held = get_hold(r)["held_micros"]
    text_bytes = len(b) - len(url)
    check(charge((6400) * 150000 + 10 * 600000) <= held <= charge((6400 + text_bytes) * 150000 + 10 * 600000),
          "held at 6,400 tokens and the text's bytes, not the image's 40 KB: %d" % held)
    check(held < held_cost("gpt-4o-mini", len(b), 10), "below its bytes' bound")


def test_caps_above_the_model_s_and_an_unpriced_snapshot_are_refused_naming_them():
    acct = account("c98caps")
    refused(acct, messages(acct, dict(AN, max_tokens=64001)), 400, "max_tokens", "above claude's", shape="anthropic")
    refused(acct, call("/openai/v1/responses", {"model": "gpt-4o-mini", "input": "x", "max_output_tokens": 16385},
                       headers={"Creditd-Account": acct}), 400, "max_output_tokens", "above gpt-4o-mini's")
    # A dated name of its own: another file on the stack may price a real
    # snapshot (test_88b prices gpt-4o-mini-2024-07-18).
    snap = "gpt-4o-mini-2031-%02d-%02d" % (1 + int(uid()[-2:], 16) % 12, 1 + int(uid()[-2:], 16) % 28)
    refused(acct, chat(acct, dict(OA, model=snap)), 400, "model", "an unpriced snapshot name")


def test_a_known_anthropic_beta_is_forwarded():
    acct = account("c98beta")
    r = messages(acct, AN, headers={"anthropic-beta": "prompt-caching-2024-07-31"})
    eq(r.status, 200, "forwarded: %r" % r.body[:300])
    eq(received()[0]["headers"].get("anthropic-beta"), "prompt-caching-2024-07-31", "the beta header upstream")


def test_an_openai_beta_value_no_table_names_is_refused():
    """docs/gateway.md "What is forwarded": OpenAI-Beta goes upstream with
    a value the route's table or the operator's free_fields (beta:NAME)
    names; the tables name none (a beta may turn on what creditd does not
    price), so any other is refused in OpenAI's shape, nothing forwarded."""
    acct = account("c98obeta")
    r = chat(acct, OA, headers={"OpenAI-Beta": "assistants=v2"})
    eq(r.status, 400, "refused: %r" % r.body[:300])
    eq(r.json["error"]["param"], "OpenAI-Beta", "named")
    eq(received(), [], "nothing forwarded")


def test_a_price_set_by_creditctl_is_what_the_gateway_holds_and_charges():
    """creditctl price set, then a gateway call of that model: held and
    charged at the new row (docs/creditctl.md, docs/gateway.md)."""
    model = uid("gpt98c")
    creditctl("price", "set", model, "input=2000000", "output=8000000", "max_output_tokens=100")
    creditctl_models = lambda: [m for m in api("GET", "/v1/models", auth="read").json["data"] if m["model"] == model]
    wait_until(creditctl_models, timeout=20, step=0.5)
    acct = account("c98newp")
    b = raw({"model": model, "messages": USER, "max_tokens": 20})
    r = chat(acct, None, raw=b)
    eq(r.status, 200, "the new model answered: %r" % r.body[:300])
    u = r.json["usage"]
    want = charge(u["prompt_tokens"] * 2000000 + u["completion_tokens"] * 8000000)
    eq(int(r.headers["creditd-charged-micros"]), want, "charged at the row just set")
    eq(get_hold(r)["held_micros"], charge(len(b) * 2000000 + 20 * 8000000), "held at it")
    reset()
    fresh[acct] = state(acct)
    refused(acct, chat(acct, {"model": model, "messages": USER, "max_tokens": 101}), 400, "max_tokens",
            "above its max_output_tokens", calls=1)


def test_bodies_refused_before_anything_in_each_shape():
    """docs/gateway.md "Request bodies" and "Refusals": a body past
    max_body_bytes (8 MiB) 413 (OpenAI's payload_too_large, Anthropic's
    request_too_large), not JSON, not an object, a duplicate key, another
    Content-Type (415), a cap that is no positive integer: nothing
    forwarded."""
    acct = account("c98body")
    big = raw({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x" * (9 * 1024 * 1024)}]})
    h = {"Creditd-Account": acct}
    e = openai_err(call("/openai/v1/chat/completions", None, raw=big, headers=h), 413, "too large")
    eq((e["type"], e["code"]), ("invalid_request_error", "payload_too_large"), "OpenAI's 413")
    e = anthropic_err(call("/anthropic/v1/messages", None, raw=big, headers=h), 413, "too large, Anthropic")
    eq(e["code"], "payload_too_large", "creditd's code")
    for body, what in ((b"", "empty"), (b"[]", "an array"), (b"{nope", "not JSON"),
                       (b'{"model":"gpt-4o-mini","model":"gpt-4o","messages":[]}', "a duplicate key")):
        openai_err(call("/openai/v1/chat/completions", None, raw=body, headers=h), 400, what)
        anthropic_err(call("/anthropic/v1/messages", None, raw=body, headers=h), 400, what + ", Anthropic")
    e = openai_err(call("/openai/v1/chat/completions", None, raw=raw(OA),
                        headers=dict(h, **{"Content-Type": "text/plain"})), 415, "text/plain")
    eq(e["code"], "unsupported_media_type", "its code")
    for cap in (0, -1, "5", 1.5):
        e = openai_err(chat(acct, dict(OA, max_tokens=cap)), 400, "max_tokens %r" % (cap,))
        eq(e["param"], "max_tokens", "the member named")
    eq(openai_err(chat(acct, dict(OA, stream="yes")), 400, "stream a string")["param"], "stream", "named")
    eq(received(), [], "nothing forwarded")
    untouched(acct, fresh[acct], "bodies")


def openai_err(r, status, what):
    eq(r.status, status, "%s: %r" % (what, r.body[:300]))
    check(r.headers.get("content-type", "").startswith("application/json"), "%s: JSON" % what)
    e = r.json["error"]
    for k in ("message", "type", "param", "code"):
        check(k in e, "%s: OpenAI's member %s: %r" % (what, k, e))
    return e


def test_a_shrunk_stream_says_its_cap_in_creditd_output_cap():
    acct = account("c98sshrink")
    api("POST", "/v1/accounts/%s/debits" % acct, {"amount_micros": state(acct)[0] - 6000, "reason": "leave a little"})
    fresh[acct] = state(acct)
    r = messages(acct, dict(AN, max_tokens=50000, stream=True))
    eq(r.status, 200, "streamed, shrunk: %r" % r.body[:300])
    cap = int(r.headers["creditd-output-cap"])
    check(256 <= cap < 50000, "a lowered cap: %d" % cap)
    eq(received()[0]["json"]["max_tokens"], cap, "sent to the provider")
    check("creditd-charged-micros" not in r.headers and "creditd-balance-micros" not in r.headers,
          "a stream's headers carry no charge or balance: %r" % r.headers)
    h = get_hold(r)
    eq(h["status"], "settled", "settled after the stream")
    eq(state(acct), (fresh[acct][0] - h["charged_micros"], 0), "charged its usage")


def test_a_provider_error_answer_says_its_charge_of_0_and_the_balance():
    acct = account("c98perr")
    mode(mode="error", status=500, count=1)
    r = chat(acct, OA)
    eq(r.status, 500, "the provider's status passed on: %r" % r.body[:300])
    eq(get_hold(r)["settle_reason"], "provider_error", "settled for 0")
    eq((r.headers.get("creditd-charged-micros"), r.headers.get("creditd-balance-micros")),
       ("0", str(fresh[acct][0])), "a whole answer's charge and balance headers")


def test_headers_an_answer_carries_and_what_goes_upstream():
    """docs/gateway.md "What is forwarded": Creditd-Output-Cap only when the
    cap was lowered; anthropic-version 2023-06-01 when the client sent
    none; the client's own OpenAI-Organization, OpenAI-Project, user agent
    and Idempotency-Key are not sent upstream (the listed headers only)."""
    acct = account("c98hdr")
    r = chat(acct, OA, headers={"OpenAI-Organization": "org-other", "OpenAI-Project": "proj-other",
                                "Idempotency-Key": "k-1", "X-Forwarded-For": "192.0.2.1"})
    eq(r.status, 200, "answered: %r" % r.body[:300])
    check("creditd-output-cap" not in r.headers, "no Creditd-Output-Cap when not lowered: %r" % r.headers)
    up = received()[0]["headers"]
    for name in ("openai-organization", "openai-project", "idempotency-key", "x-forwarded-for"):
        check(name not in up, "%s not forwarded: %r" % (name, up))
    reset()
    r = call("/anthropic/v1/messages", AN, headers={"Creditd-Account": acct})
    eq(r.status, 200, "answered without anthropic-version: %r" % r.body[:300])
    eq(received()[0]["headers"].get("anthropic-version"), "2023-06-01", "the version creditd sends for none")


def test_no_provider_key_and_no_byok_is_503_provider_not_configured_in_each_shape():
    """DESIGN §12 "The provider's side": no provider key configured and no
    BYOK → 503 `provider_not_configured`; a BYOK call still goes."""
    conf = stack.path("creditd-nokeys.conf")
    shutil.copy(ENV["CREDITD_CONFIG"], conf)
    with open(conf) as f:
        text = f.read()
    with open(conf, "w") as f:
        f.write(re.sub(r"(?m)^(openai|anthropic)_api_key\s*=.*\n", "", text))
    stack.creditd_kill9()
    stack.creditd_start(config=conf)
    try:
        acct = account("c98nokey")
        r = chat(acct, OA)
        e = openai_err(r, 503, "no OpenAI key")
        eq((e["type"], e["code"]), ("api_error", "provider_not_configured"), "docs/api.md's type and code")
        e = anthropic_err(messages(acct, AN), 503, "no Anthropic key")
        eq(e["code"], "provider_not_configured", "creditd's code")
        eq(received(), [], "nothing forwarded")
        untouched(acct, fresh[acct], "no provider key")
        r = chat(acct, OA, headers={"Creditd-Provider-Key": "sk-fake-openai"})
        eq(r.status, 200, "a BYOK call goes: %r" % r.body[:300])
        eq(received()[0]["headers"]["authorization"], "Bearer sk-fake-openai", "with the caller's key")
    finally:
        stack.creditd_kill9()
        stack.creditd_start()


def _cost_comment(r):
    lines = [x for x in r.body.decode().replace("\r\n", "\n").split("\n") if x.startswith(": creditd ")]
    eq(len(lines), 1, "one cost comment: %r" % r.body[-400:])
    check(r.body.decode().rstrip().endswith(lines[0]), "the stream's last line: %r" % r.body[-300:])
    return json.loads(lines[0][len(": creditd "):])


def test_creditd_stream_cost_ends_each_stream_with_its_cost_comment():
    """docs/gateway.md "The cost of one call": `Creditd-Stream-Cost: 1` ends
    a stream, after the provider's last event and its settle, with
    `: creditd {"hold_id", "charged_micros", "balance_micros",
    "settle_reason"}`; `balance_micros` null for a member's call."""
    ws = limited("c98cost", {}, kind="workspace")
    fresh[ws] = state(ws)
    h = {"Creditd-Stream-Cost": "1", "Creditd-Account": ws}
    for path, body in (("/openai/v1/chat/completions", dict(OA, stream=True)),
                       ("/openai/v1/responses", {"model": "gpt-4o-mini", "input": "x", "max_output_tokens": 16,
                                                 "stream": True}),
                       ("/anthropic/v1/messages", dict(AN, stream=True))):
        r = call(path, body, headers=dict(h, **{"anthropic-version": "2023-06-01"}))
        eq(r.status, 200, "%s streamed: %r" % (path, r.body[:300]))
        c = _cost_comment(r)
        eq(sorted(c), ["balance_micros", "charged_micros", "hold_id", "settle_reason"], "its members")
        hold = get_hold(r)
        eq((c["hold_id"], c["charged_micros"], c["settle_reason"]),
           (r.headers["creditd-hold-id"], hold["charged_micros"], "provider_usage"), "%s: the hold's" % path)
        eq(c["balance_micros"], state(ws)[0], "%s: the balance after the settle" % path)
        reset()
    r = call("/openai/v1/chat/completions", dict(OA, stream=True), headers=dict(h, **{"Creditd-Member": "bob"}))
    eq(r.status, 200, "a member's stream: %r" % r.body[:300])
    c = _cost_comment(r)
    eq(c["balance_micros"], None, "no balance for a member's call")
    reset()
    r = call("/openai/v1/chat/completions", dict(OA, stream=True), headers={"Creditd-Account": ws})
    check(b": creditd " not in r.body, "no comment unless asked")


def test_a_gateway_key_reads_the_holds_of_its_own_calls_only():
    ws = limited("c98hown", {}, kind="workspace")
    eq(api("POST", "/v1/accounts/%s/members" % ws, {"member": "carol", "monthly_cap_micros": 10 ** 9}).status, 201,
       "carol a member")
    bob, carol = gw_key(ws, member="bob")["key"], gw_key(ws, member="carol")["key"]
    r = call("/openai/v1/chat/completions", OA, auth=None, headers={"Authorization": "Bearer " + carol})
    eq(r.status, 200, "carol's call: %r" % r.body[:300])
    hc = r.headers["creditd-hold-id"]
    eq(api("GET", "/v1/holds/" + hc, auth=carol).status, 200, "carol reads her own call's hold")
    r = call("/openai/v1/chat/completions", OA, headers={"Creditd-Account": ws})
    hg = r.headers["creditd-hold-id"]
    for h, whose in ((hc, "carol's"), (hg, "the guard key's")):
        g = api("GET", "/v1/holds/" + h, auth=bob)
        eq(g.status, 404, "bob reads %s hold: %r" % (whose, g))


def test_a_stream_in_flight_shows_its_hold_pending_then_settled():
    """DESIGN §12: the hold's id comes with the first byte; while the
    stream runs the hold is pending and reserved (GET /v1/holds/{id}, the
    account's reserved_micros); its end settles it."""
    ensure_prices()
    acct = account("c98flight")
    mode(output_tokens=5, end_gate=True)
    u = urllib.parse.urlsplit(ENV["CREDITD_URL"])
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    c.request("POST", u.path.rstrip("/") + "/openai/v1/chat/completions", body=raw(dict(OA, stream=True)),
              headers={"Content-Type": "application/json", "Authorization": "Bearer " + ENV["CREDITD_GUARD_KEY"],
                       "Creditd-Account": acct})
    r = c.getresponse()
    try:
        eq(r.status, 200, "the stream began")
        hid = r.getheader("creditd-hold-id")
        check(hid, "the hold named with the first byte")
        h = api("GET", "/v1/holds/" + hid, auth="read").json
        eq((h["status"], h["usage"], h["settle_reason"]), ("pending", None, None),
           "pending while the stream runs, no usage before a settle (docs/api.md): %r" % h)
        eq(state(acct), (fresh[acct][0], h["held_micros"]), "reserved, not yet charged")
        provider("POST", "/_open_gate", {})
        r.read()
    finally:
        c.close()
    wait_until(lambda: api("GET", "/v1/holds/" + hid, auth="read").json["status"] == "settled", timeout=10)
    h = api("GET", "/v1/holds/" + hid, auth="read").json
    reset()     # the gate's mode off for whatever runs next
    eq(state(acct), (fresh[acct][0] - h["charged_micros"], 0), "settled: charged, nothing reserved")



def _raw_request(method, path, headers):
    u = urllib.parse.urlsplit(ENV["CREDITD_URL"])
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        c.request(method, path, headers=headers)
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def test_the_gateway_speaks_http_as_clients_expect():
    """DESIGN §11 "HTTP as clients and monitors expect it", on the gateway's
    routes: HEAD on a GET route (same status and headers, no body); a 405
    with `Allow`; a 401 with `WWW-Authenticate: Bearer realm="creditd"`
    (with `error="invalid_token"` when a key was sent)."""
    ensure_prices()
    auth = {"Authorization": "Bearer " + ENV["CREDITD_GUARD_KEY"]}
    s, h, body = _raw_request("GET", "/openai/v1/models", auth)
    hs, hh, hbody = _raw_request("HEAD", "/openai/v1/models", auth)
    eq((hs, hbody, hh.get("content-type")), (s, b"", h.get("content-type")), "HEAD as GET, no body")
    for path in ("/openai/v1/chat/completions", "/anthropic/v1/messages"):
        s, h, _ = _raw_request("GET", path, auth)
        eq(s, 405, "GET on %s" % path)
        check("POST" in h.get("allow", ""), "%s: Allow names POST: %r" % (path, h))
        s, h, _ = _raw_request("POST", path, {})
        eq(s, 401, "no key on %s" % path)
        check(h.get("www-authenticate", "").startswith('Bearer realm="creditd"'), "%s: WWW-Authenticate: %r" % (path, h))
        s, h, _ = _raw_request("POST", path, {"Authorization": "Bearer crd_" + "0" * 64})
        eq(s, 401, "a wrong key on %s" % path)
        check('error="invalid_token"' in h.get("www-authenticate", ""), "%s: invalid_token: %r" % (path, h))
